#!/usr/bin/python3
"""UNSIR (Tarun et al., "Fast Yet Effective Machine Unlearning") in PyTorch, as OnnxUnlearn
intends it (DESIGN.md section 6) -- WITHOUT the defects of the authors' notebook:
every noise sample of a class may enter the impair set (default: all 256), noise is
labelled with the class it was made for, and BatchNorm running statistics are not
overwritten by the noise passes (default: batch statistics, running stats restored).

    /usr/bin/python3 tools/unsir_torch.py --model models/fmnist_cnn_bn.onnx \\
        --data models/fmnist_train.npz --test models/fmnist_test.npz --classes 0 \\
        --threads 2 --seed 0 [--json]

Weights come from the ONNX file (tools/sample_nets.py; the file name picks the architecture).
Reference for speed/quality benchmarks; nothing is written unless --save is given.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_nets as sn  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="ONNX file (models/fmnist_cnn_bn.onnx, ..._folded, fmnist_mlp)")
    ap.add_argument("--data", required=True, help="npz with x uint8 [N,1,28,28], y int64 (retained subset source)")
    ap.add_argument("--test", required=True, help="npz for evaluation")
    ap.add_argument("--classes", required=True, help="forget classes, comma separated, e.g. 0 or 0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    # noise phase
    ap.add_argument("--noise-batch", type=int, default=256, help="noise samples per forget class")
    ap.add_argument("--noise-steps", type=int, default=40)
    ap.add_argument("--noise-lr", type=float, default=0.1, help="Adam learning rate on the noise")
    ap.add_argument("--noise-l2", type=float, default=0.1,
                    help="lambda of lambda*mean_batch(sum_CHW noise^2)")
    ap.add_argument("--noise-bn", choices=["batch", "running", "batch-update"], default="batch",
                    help="BN during the noise phase: batch = batch statistics, running stats restored "
                         "(default); running = eval mode; batch-update = train mode that overwrites the "
                         "running stats (the authors' behaviour)")
    # impair set
    ap.add_argument("--retain-per-class", type=int, default=1000, help="retained subset size per retained class")
    ap.add_argument("--impair-noise-per-class", type=int, default=None,
                    help="noise samples per class that enter the impair set (default: the whole noise batch)")
    ap.add_argument("--noise-repeats", type=int, default=20, help="copies of each noise sample in the impair set")
    ap.add_argument("--noise-label", choices=["own", "zero"], default="own",
                    help="label of noise samples: own = the class it was made for; zero = class 0 (authors' bug)")
    # impair / repair
    ap.add_argument("--batch", type=int, default=256, help="batch size of impair and repair")
    ap.add_argument("--impair-lr", type=float, default=0.02)
    ap.add_argument("--impair-epochs", type=int, default=1)
    ap.add_argument("--repair-lr", type=float, default=0.01)
    ap.add_argument("--repair-epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1,
                    help="impair + repair rounds, each from where the last ended (onnx-unlearn's rounds, a fixed count here)")
    ap.add_argument("--impair-lr-growth", type=float, default=2.0, help="factor on the impair lr at each further round")
    ap.add_argument("--save", default=None, help="optional: save the unlearned torch state_dict (.pt)")
    return ap.parse_args(argv)


@torch.no_grad()
def evaluate(model, x, y, forget):
    model.eval()
    pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    ok = pred == y
    fmask = torch.zeros_like(y, dtype=torch.bool)
    for c in forget:
        fmask |= y == c
    per_class = [ok[y == c].float().mean().item() for c in range(sn.NUM_CLASSES)]
    return dict(forget_acc=ok[fmask].float().mean().item(), retain_acc=ok[~fmask].float().mean().item(),
                test_acc=ok.float().mean().item(), per_class=per_class)


def make_noise(model, cls, args, gen):
    """Optimise one [B,1,28,28] noise batch for class `cls` (input gradients only)."""
    bns = sn.bn_modules(model)
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in bns]
    model.train(args.noise_bn != "running")
    noise = torch.randn(args.noise_batch, 1, 28, 28, generator=gen).requires_grad_(True)
    opt = torch.optim.Adam([noise], lr=args.noise_lr)
    target = torch.full((args.noise_batch,), cls, dtype=torch.long)
    for _ in range(args.noise_steps):
        loss = -F.cross_entropy(model(noise), target) + args.noise_l2 * noise.pow(2).sum(dim=(1, 2, 3)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if args.noise_bn == "batch":
        for m, (rm, rv, nb) in zip(bns, saved):
            m.running_mean.copy_(rm)
            m.running_var.copy_(rv)
            m.num_batches_tracked.copy_(nb)
    return noise.detach()


def train_epochs(model, x, y, lr, epochs, bs, gen):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(x)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            if len(b) < 2:  # BN cannot train on a batch of one
                continue
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def run(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    forget = sorted({int(c) for c in args.classes.split(",") if c.strip() != ""})
    retain = [c for c in range(sn.NUM_CLASSES) if c not in forget]
    arch = sn.arch_from_path(args.model)
    model = sn.load_from_onnx(args.model, arch)

    xd, yd = sn.load_npz(args.data)
    xt, yt = sn.load_npz(args.test)
    xt, yt = sn.preprocess(xt), torch.from_numpy(yt.astype(np.int64))
    rng = np.random.default_rng(args.seed)
    idx = []
    for c in retain:
        cls = np.flatnonzero(yd == c)
        k = min(args.retain_per_class, len(cls))
        idx.append(rng.choice(cls, size=k, replace=False))
    idx = np.concatenate(idx)
    xr, yr = sn.preprocess(xd[idx]), torch.from_numpy(yd[idx].astype(np.int64))
    gen = torch.Generator().manual_seed(args.seed)

    before = evaluate(model, xt, yt, forget)

    t0 = time.perf_counter()
    for p in model.parameters():
        p.requires_grad_(False)  # noise phase: input gradients only, no dW
    noises = [make_noise(model, c, args, gen) for c in forget]
    for p in model.parameters():
        p.requires_grad_(True)
    t1 = time.perf_counter()

    k = args.noise_batch if args.impair_noise_per_class is None else min(args.impair_noise_per_class, args.noise_batch)
    xs, ys = [xr], [yr]
    for c, nz in zip(forget, noises):
        xs.append(nz[:k].repeat(args.noise_repeats, 1, 1, 1))
        ys.append(torch.full((k * args.noise_repeats,), c if args.noise_label == "own" else 0, dtype=torch.long))
    xi, yi = torch.cat(xs), torch.cat(ys)
    impair_s = repair_s = 0.0
    after_impair = None
    for r in range(args.rounds):
        t2 = time.perf_counter()
        train_epochs(model, xi, yi, args.impair_lr * args.impair_lr_growth ** r, args.impair_epochs, args.batch, gen)
        t3 = time.perf_counter()
        if after_impair is None:
            after_impair = evaluate(model, xt, yt, forget)
        t4 = time.perf_counter()
        train_epochs(model, xr, yr, args.repair_lr, args.repair_epochs, args.batch, gen)
        impair_s += t3 - t2
        repair_s += time.perf_counter() - t4
    after = evaluate(model, xt, yt, forget)
    if args.save:
        torch.save(model.state_dict(), args.save)

    config = {k_: v for k_, v in vars(args).items() if k_ not in ("json",)}
    config.update(arch=arch, forget_classes=forget, retained_samples=len(xr), impair_samples=len(xi),
                  impair_noise_per_class=k, torch=torch.__version__)
    return dict(
        timings_s=dict(noise=t1 - t0, impair=impair_s, repair=repair_s, total=(t1 - t0) + impair_s + repair_s),
        metrics=dict(before=before, after_impair=after_impair, after=after),
        config=config,
    )


def main():
    args = parse_args()
    r = run(args)
    if args.json:
        print(json.dumps(r))
        return
    c = r["config"]
    print(f"UNSIR (PyTorch {c['torch']}) on {args.model} [{c['arch']}], forget {c['forget_classes']}, "
          f"threads {args.threads}, seed {args.seed}")
    print(f"  noise: {args.noise_batch}/class, {args.noise_steps} Adam steps lr {args.noise_lr}, "
          f"l2 {args.noise_l2}, BN {args.noise_bn}")
    print(f"  impair: {c['impair_samples']} samples ({c['impair_noise_per_class']} noise x {args.noise_repeats} per class, "
          f"label {args.noise_label}, + {c['retained_samples']} retained), Adam lr {args.impair_lr}, "
          f"{args.impair_epochs} epoch(s), batch {args.batch}")
    print(f"  repair: {c['retained_samples']} retained, Adam lr {args.repair_lr}, {args.repair_epochs} epoch(s)")
    if args.rounds > 1:
        print(f"  {args.rounds} impair + repair rounds, impair lr x{args.impair_lr_growth} each further round")
    t = r["timings_s"]
    print(f"  time: noise {t['noise']:.2f} s, impair {t['impair']:.2f} s, repair {t['repair']:.2f} s, "
          f"total {t['total']:.2f} s")
    for k in ("before", "after_impair", "after"):
        m = r["metrics"][k]
        print(f"  {k:13s} forget {100 * m['forget_acc']:6.2f} %  retain {100 * m['retain_acc']:6.2f} %  "
              f"test {100 * m['test_acc']:6.2f} %")


if __name__ == "__main__":
    main()
