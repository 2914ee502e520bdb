#!/usr/bin/python3
"""Train and export the models of the generality study (tools/generality.sh).

    /usr/bin/python3 tools/generality_nets.py --out /tmp/gen

Two architectures unlike the samples in models/ (a ResNet-style CNN with BN, its BN-folded export,
an MLP), so that `forget`'s default settings can be checked on models that were not used to tune
them:

  gen_vgg_bn        plain VGG-style CNN: [conv3x3-BN-ReLU] x2 (32), MaxPool, [conv3x3-BN-ReLU] x2
                    (64), MaxPool, Flatten, Dropout(0.3), Linear 3136->128, ReLU, Linear 128->10.
                    Exported with BatchNormalization nodes kept: model.eval(),
                    training=TrainingMode.PRESERVE, do_constant_folding=False, opset 17.
  gen_mobilenet     MobileNet-style CNN of depthwise-separable blocks: stem conv3x3 1->16-BN-Hardswish,
                    then blocks [depthwise conv3x3-BN-Hardswish, pointwise conv1x1-BN-Hardswish]
                    16->32, 32->64 (stride 2), 64->128 (stride 2), 128->128, GlobalAveragePool,
                    Linear 128->10. Exported in the normal eval mode (TrainingMode.EVAL, constant
                    folding on), so every BatchNorm is folded into its conv; opset 13.

Recipe for every model: the full official Fashion-MNIST train split (60,000 images, or those of the
kept classes for a retrain baseline), 3 epochs, Adam lr 1e-3 constant (torch defaults otherwise),
batch 128, mini-batches from a torch.randperm per epoch (generator seeded with the seed), seed 0,
cross-entropy; 2 threads, torch.use_deterministic_algorithms(True). Preprocessing is the samples'
(tools/sample_nets.py): x = (u8/255 - 0.2860) / 0.3530, i.e. the CLI's `--preprocess fmnist`.

Writes into --out:
  test10k.npz                         the full official test split (x uint8 [N,1,28,28], y int64)
  gen_vgg_bn.onnx, gen_mobilenet.onnx the originals
  <model>_retrain_<classes>.onnx      retrain baselines, e.g. gen_vgg_bn_retrain_1-4-7.onnx
  models.json                         PyTorch accuracies on test10k.npz (overall, per class), params,
                                      ops, training time of every model
An existing .onnx is kept (not retrained) unless --force.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_nets as sn  # noqa: E402

SEED = 0
RECIPE = dict(seed=SEED, epochs=3, batch=128, lr=1e-3)
BASELINE_SETS = [(0,), (1, 4, 7)]


class VggBn(nn.Module):
    def __init__(self):
        super().__init__()

        def cbr(cin, cout):
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *cbr(1, 32), *cbr(32, 32), nn.MaxPool2d(2),      # 14x14
            *cbr(32, 64), *cbr(64, 64), nn.MaxPool2d(2),     # 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Linear(128, sn.NUM_CLASSES),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MobileNetLike(nn.Module):
    def __init__(self):
        super().__init__()

        def cba(cin, cout, k, stride=1, groups=1):
            return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                    nn.BatchNorm2d(cout), nn.Hardswish()]

        def dws(cin, cout, stride):
            return [*cba(cin, cin, 3, stride, groups=cin), *cba(cin, cout, 1)]

        self.features = nn.Sequential(
            *cba(1, 16, 3),            # 28x28
            *dws(16, 32, 1),           # 28x28
            *dws(32, 64, 2),           # 14x14
            *dws(64, 128, 2),          # 7x7
            *dws(128, 128, 1),         # 7x7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, sn.NUM_CLASSES)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


# name -> (constructor, export settings)
ARCHS = {
    "gen_vgg_bn": (VggBn, dict(opset=17, training=torch.onnx.TrainingMode.PRESERVE, fold=False)),
    "gen_mobilenet": (MobileNetLike, dict(opset=13, training=torch.onnx.TrainingMode.EVAL, fold=True)),
}


def train(model, x, y, log):
    torch.manual_seed(RECIPE["seed"])
    g = torch.Generator().manual_seed(RECIPE["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
    n, bs = x.shape[0], RECIPE["batch"]
    model.train()
    for ep in range(RECIPE["epochs"]):
        t0 = time.time()
        perm = torch.randperm(n, generator=g)
        tot = 0.0
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
        log(f"    epoch {ep + 1}/{RECIPE['epochs']}: loss {tot / n:.4f} ({time.time() - t0:.0f} s)")
    return model.eval()


@torch.no_grad()
def predictions(model, x, bs=1000):
    model.eval()
    return torch.cat([model(x[i:i + bs]).argmax(1) for i in range(0, x.shape[0], bs)])


def export(model, path, opset, training, fold):
    model.eval()
    torch.onnx.export(
        model, torch.zeros(2, 1, 28, 28), path,
        export_params=True, opset_version=opset,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        training=training, do_constant_folding=fold,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def onnx_accuracy(path, x_u8, y):
    """Accuracy of the exported file in ONNX Runtime if it is installed (a check of the export)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = sn.preprocess(x_u8).numpy()
    pred = np.concatenate([s.run(None, {"input": x[i:i + 1000]})[0].argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/gen")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--force", action="store_true", help="retrain models whose .onnx already exists")
    ap.add_argument("--only", nargs="*", help="architectures to do (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    log = lambda s: print(s, flush=True)  # noqa: E731

    xtr, ytr = sn.load_fmnist("train")
    xte, yte = sn.load_fmnist("test")
    test_path = os.path.join(args.out, "test10k.npz")
    np.savez_compressed(test_path, x=xte, y=yte.astype(np.int64))
    log(f"{test_path}: {len(yte)} images, per class {np.bincount(yte).tolist()}")
    X, Y = sn.preprocess(xtr), torch.from_numpy(ytr)
    Xte = sn.preprocess(xte)

    info_path = os.path.join(args.out, "models.json")
    info = json.load(open(info_path)) if os.path.exists(info_path) else {}
    for arch, (ctor, ex) in ARCHS.items():
        if args.only and arch not in args.only:
            continue
        for removed in [()] + BASELINE_SETS:
            name = arch if not removed else f"{arch}_retrain_{'-'.join(map(str, removed))}"
            path = os.path.join(args.out, name + ".onnx")
            if os.path.exists(path) and not args.force and name in info:
                log(f"{name}: kept {path}")
                continue
            keep = ~np.isin(ytr, removed)
            log(f"{name}: training on {int(keep.sum())} images, {json.dumps(RECIPE)}")
            torch.manual_seed(RECIPE["seed"])
            model = ctor()
            t0 = time.time()
            idx = torch.from_numpy(np.flatnonzero(keep))
            train(model, X[idx], Y[idx], log)
            secs = time.time() - t0
            pred = predictions(model, Xte).numpy()
            per_class = [float((pred[yte == c] == c).mean()) for c in range(sn.NUM_CLASSES)]
            ops = export(model, path, **ex)
            rec = dict(file=path, arch=arch, removed=list(removed), train_images=int(keep.sum()),
                       recipe=RECIPE, export=dict(opset=ex["opset"], training=str(ex["training"]),
                                                  do_constant_folding=ex["fold"]),
                       params=sum(p.numel() for p in model.parameters()), train_s=round(secs, 1),
                       torch_test_acc=float((pred == yte).mean()), torch_per_class_acc=per_class,
                       ort_test_acc=onnx_accuracy(path, xte, yte), onnx_ops=ops)
            for cs in BASELINE_SETS:
                f = np.isin(yte, cs)
                rec[f"torch_forget_acc_{'-'.join(map(str, cs))}"] = float((pred[f] == yte[f]).mean())
                rec[f"torch_retain_acc_{'-'.join(map(str, cs))}"] = float((pred[~f] == yte[~f]).mean())
            info[name] = rec
            log(f"{name}: test acc {rec['torch_test_acc']:.4f} (PyTorch), {rec['params']:,} parameters, "
                f"{secs:.0f} s; ops {ops}")
            with open(info_path, "w") as fh:
                json.dump(info, fh, indent=1)
    log(f"wrote {info_path}")


if __name__ == "__main__":
    main()
