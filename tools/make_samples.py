#!/usr/bin/python3
"""Make the OnnxUnlearn sample models and data subsets from Fashion-MNIST.

    /usr/bin/python3 tools/make_samples.py --out models

Writes into --out:
  fmnist_train.npz       stratified 1000/class subset of the official TRAIN split (x uint8 [N,1,28,28], y int64)
  fmnist_test.npz        stratified 500/class subset of the official TEST split
  fmnist_cnn_bn.onnx     ResNet-style CNN with inference BatchNormalization nodes
  fmnist_cnn_folded.onnx the same trained CNN with every BN folded into its conv
  fmnist_mlp.onnx        MLP 784-256-128-10
  PROVENANCE.md
and the trained state dicts into tools/.cache/ (git-ignored).

Deterministic: fixed seeds, 2 CPU threads.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_nets as sn  # noqa: E402

SUBSET_SEED = 20240601
CNN_SEED = 1
MLP_SEED = 2
OPSET = 13
CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")

RECIPES = {
    "fmnist_cnn_bn": dict(seed=CNN_SEED, epochs=3, batch=128, lr=2e-3, weight_decay=0.0),
    "fmnist_mlp": dict(seed=MLP_SEED, epochs=5, batch=128, lr=1e-3, weight_decay=0.0),
}


def stratified(y, per_class, rng):
    idx = []
    for c in range(sn.NUM_CLASSES):
        cls = np.flatnonzero(y == c)
        idx.append(rng.choice(cls, size=per_class, replace=False))
    idx = np.concatenate(idx)
    rng.shuffle(idx)
    return idx


def train(model, x, y, recipe, log):
    """Adam with cosine decay of the learning rate per step to 0; reshuffle per epoch."""
    torch.manual_seed(recipe["seed"])
    g = torch.Generator().manual_seed(recipe["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    n, bs = x.shape[0], recipe["batch"]
    steps_per_epoch = math.ceil(n / bs)
    total = recipe["epochs"] * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    model.train()
    step = 0
    for ep in range(recipe["epochs"]):
        t0 = time.time()
        perm = torch.randperm(n, generator=g)
        tot_loss = 0.0
        for i in range(steps_per_epoch):
            b = perm[i * bs:(i + 1) * bs]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            tot_loss += loss.item() * len(b)
        log(f"  epoch {ep + 1}/{recipe['epochs']}: loss {tot_loss / n:.4f} ({time.time() - t0:.1f} s)")
    model.eval()
    return model


@torch.no_grad()
def accuracy(model, x, y, bs=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], bs):
        correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return correct


def export(model, path, preserve_bn):
    """Export with opset 13, input `input`, output `logits`, dynamic batch axis.

    torch 1.13's exporter deduplicates initializers with EQUAL VALUES in eval mode
    (_jit_pass_onnx_deduplicate_initializers): in a ResNet block with a projection
    shortcut, bn2.bias and down_bn.bias receive identical gradients from the Add and stay
    bit-identical through training, so one of them would be replaced by an Identity node
    of the other. We switch that pass off so every parameter keeps its own initializer."""
    model.eval()
    dummy = torch.zeros(2, 1, 28, 28)
    saved = torch._C._jit_pass_onnx_deduplicate_initializers
    torch._C._jit_pass_onnx_deduplicate_initializers = lambda graph, params, training: params
    try:
        _export(model, dummy, path, preserve_bn)
    finally:
        torch._C._jit_pass_onnx_deduplicate_initializers = saved
    m = onnx.load(path)
    onnx.checker.check_model(m)
    assert not [n for n in m.graph.node if n.op_type == "Identity"], f"{path}: Identity node present"
    return m


def _export(model, dummy, path, preserve_bn):
    torch.onnx.export(
        model, dummy, path,
        export_params=True,
        opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        training=torch.onnx.TrainingMode.PRESERVE if preserve_bn else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=False,
    )


def check_names(m, module, path):
    """Every float initializer of the ONNX file must be a parameter/buffer of `module`
    (same name, same shape), and every parameter must be an initializer."""
    sd = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    params = dict(module.named_parameters())
    inits = {}
    for i in m.graph.initializer:
        a = onnx.numpy_helper.to_array(i)
        if a.dtype.kind == "f":
            inits[i.name] = a
    bad = [k for k in inits if k not in sd]
    assert not bad, f"{path}: initializers not named after torch parameters/buffers: {bad}"
    for k, a in inits.items():
        assert tuple(a.shape) == tuple(sd[k].shape), (path, k, a.shape, sd[k].shape)
        assert np.array_equal(a, sd[k].detach().numpy()), (path, k, "value mismatch")
    missing = [k for k in params if k not in inits]
    assert not missing, f"{path}: parameters missing from initializers: {missing}"
    g = m.graph
    assert [i.name for i in g.input] == ["input"], [i.name for i in g.input]
    assert [o.name for o in g.output] == ["logits"], [o.name for o in g.output]
    d0 = g.input[0].type.tensor_type.shape.dim[0]
    assert d0.dim_param and not d0.dim_value, "batch axis not dynamic on input"
    o0 = g.output[0].type.tensor_type.shape.dim[0]
    assert o0.dim_param and not o0.dim_value, "batch axis not dynamic on output"


def op_counts(m):
    c = {}
    for n in m.graph.node:
        c[n.op_type] = c.get(n.op_type, 0) + 1
    return c


def init_table(m):
    rows = []
    for i in m.graph.initializer:
        rows.append((i.name, list(i.dims), onnx.TensorProto.DataType.Name(i.data_type)))
    return rows


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def cnn_flops(model):
    """Multiply-accumulates of one forward pass per image for conv/linear layers."""
    macs = 0
    hooks = []

    def conv_hook(mod, inp, out):
        nonlocal macs
        macs += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    def lin_hook(mod, inp, out):
        nonlocal macs
        macs += mod.in_features * mod.out_features

    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, torch.nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return macs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse-cache", action="store_true",
                    help="load trained weights from tools/.cache instead of training (for iteration only)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(CACHE, exist_ok=True)
    log = lambda s: print(s, flush=True)  # noqa: E731
    t_start = time.time()

    # ---------------------------------------------------------------- data
    xtr, ytr = sn.load_fmnist("train")
    xte, yte = sn.load_fmnist("test")
    rng = np.random.default_rng(SUBSET_SEED)
    itr = stratified(ytr, 1000, rng)
    ite = stratified(yte, 500, rng)
    np.savez_compressed(os.path.join(args.out, "fmnist_train.npz"), x=xtr[itr], y=ytr[itr].astype(np.int64))
    np.savez_compressed(os.path.join(args.out, "fmnist_test.npz"), x=xte[ite], y=yte[ite].astype(np.int64))
    log(f"subsets written: train {len(itr)}, test {len(ite)}")

    X = sn.preprocess(xtr)
    Y = torch.from_numpy(ytr)
    Xs = sn.preprocess(xte[ite])
    Ys = torch.from_numpy(yte[ite])
    Xfull = sn.preprocess(xte)
    Yfull = torch.from_numpy(yte)

    # ---------------------------------------------------------------- train
    trained = {}
    train_time = {}
    for name, ctor in (("fmnist_cnn_bn", lambda: sn.FmnistCnn(bn=True)), ("fmnist_mlp", sn.FmnistMlp)):
        rec = RECIPES[name]
        cache = os.path.join(CACHE, f"{name}.pt")
        torch.manual_seed(rec["seed"])
        model = ctor()
        if args.reuse_cache and os.path.exists(cache):
            model.load_state_dict(torch.load(cache))
            log(f"{name}: loaded {cache}")
            tt = os.path.join(CACHE, f"{name}.train_time")
            train_time[name] = float(open(tt).read()) if os.path.exists(tt) else None
        else:
            log(f"{name}: training {json.dumps(rec)}")
            t0 = time.time()
            train(model, X, Y, rec, log)
            train_time[name] = time.time() - t0
            torch.save(model.state_dict(), cache)
            with open(os.path.join(CACHE, f"{name}.train_time"), "w") as f:
                f.write(f"{train_time[name]:.1f}")
        trained[name] = model.eval()

    cnn = trained["fmnist_cnn_bn"]
    folded = sn.fold_bn(cnn).eval()
    torch.save(folded.state_dict(), os.path.join(CACHE, "fmnist_cnn_folded.pt"))
    with torch.no_grad():
        d = (cnn(Xs) - folded(Xs)).abs().max().item()
    log(f"folded vs BN logits max |diff| on test subset: {d:.3g}")
    assert d < 1e-3

    # ---------------------------------------------------------------- export + verify
    models = {"fmnist_cnn_bn": (cnn, True), "fmnist_cnn_folded": (folded, False), "fmnist_mlp": (trained["fmnist_mlp"], False)}
    info = {}
    for name, (model, preserve) in models.items():
        path = os.path.join(args.out, f"{name}.onnx")
        m = export(model, path, preserve)
        check_names(m, model, path)
        ops = op_counts(m)
        bn_nodes = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
        if name == "fmnist_cnn_bn":
            assert len(bn_nodes) == 9, len(bn_nodes)
            for n in bn_nodes:
                assert len(n.output) == 1, n
                tm = [a for a in n.attribute if a.name == "training_mode"]
                assert not tm or tm[0].i == 0, n
        else:
            assert not bn_nodes, f"{name}: BatchNormalization node present"
        # round trip: weights loaded back from ONNX must give the same logits
        back = sn.load_from_onnx(path)
        with torch.no_grad():
            assert torch.equal(back(Xs), model(Xs)), f"{name}: ONNX round trip mismatch"
        c = accuracy(model, Xs, Ys)
        cf = accuracy(model, Xfull, Yfull)
        per_class = []
        with torch.no_grad():
            pred = model(Xs).argmax(1)
        for k in range(sn.NUM_CLASSES):
            sel = Ys == k
            per_class.append((pred[sel] == k).sum().item())
        info[name] = dict(
            params=sn.count_params(model), correct=c, n=len(Ys), acc=100.0 * c / len(Ys),
            correct_full=cf, n_full=len(Yfull), macs=cnn_flops(model), ops=ops,
            inits=init_table(m), size=os.path.getsize(path), sha256=sha256(path), per_class=per_class)
        log(f"{name}: params {info[name]['params']}, test subset {c}/{len(Ys)} = {100.0 * c / len(Ys):.2f} %, "
            f"full test {cf}/{len(Yfull)}, ops {ops}")

    for f in ("fmnist_train.npz", "fmnist_test.npz"):
        p = os.path.join(args.out, f)
        info[f] = dict(size=os.path.getsize(p), sha256=sha256(p))
    write_provenance(args.out, info, train_time, len(itr), len(ite))
    log(f"done in {time.time() - t_start:.1f} s")


def write_provenance(out, info, train_time, ntr, nte):
    cmd = "/usr/bin/python3 tools/make_samples.py --out models"
    L = []
    a = L.append
    a("# Sample models and data: provenance\n")
    a("Everything in this folder was produced by one deterministic run of\n")
    a("```\n" + cmd + "\n```\n")
    a(f"(script `tools/make_samples.py`, module definitions in `tools/sample_nets.py`; Debian "
      f"python3-torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}; CPU, "
      "`torch.set_num_threads(2)`, `torch.use_deterministic_algorithms(True)`). "
      "Trained state dicts are also left in `tools/.cache/` (git-ignored).\n")
    a("## Source data and licences\n")
    a("- Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), Zalando Research, **MIT licence**; read from the "
      "Debian package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist/*.gz`, IDX format).")
    a("- The models and subsets here are produced by this project and carry the same licence as this "
      "repository (the data subsets remain under Fashion-MNIST's MIT licence).\n")
    a("Classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(sn.CLASS_NAMES)) + ".\n")
    a("## Preprocessing (all models)\n")
    a("Input `input`: float32 NCHW `[N,1,28,28]`, `x = (u8 / 255 - 0.2860) / 0.3530` "
      "(scale 1/255, mean 0.2860, std 0.3530: the Fashion-MNIST train mean/std). Output `logits`: "
      "float32 `[N,10]` (no softmax). Batch axis dynamic (`N`). ONNX opset 13.\n")
    a("## Data subsets\n")
    a(f"- `fmnist_train.npz` ({info['fmnist_train.npz']['size']:,} bytes): {ntr} images, stratified "
      "1000 per class from the official TRAIN split (60,000).")
    a(f"- `fmnist_test.npz` ({info['fmnist_test.npz']['size']:,} bytes): {nte} images, stratified "
      "500 per class from the official TEST split (10,000).")
    a(f"- Arrays `x` uint8 `[N,1,28,28]` (raw pixels, not preprocessed) and `y` int64 `[N]`. Selection: "
      f"`numpy.random.default_rng({SUBSET_SEED})`, per class `rng.choice(indices_of_class, k, replace=False)` "
      "(classes 0..9 in order, train first, then test, same generator), concatenated, then `rng.shuffle`. "
      "Written with `np.savez_compressed`. The train subset is a subset of the images the models were "
      "trained on; the test subset was never trained on.\n")
    a("## Models\n")
    a("All three were trained on the FULL official train split (60,000 images, preprocessed as above), "
      "Adam (torch.optim defaults betas (0.9, 0.999), eps 1e-8), learning rate decayed by a per-step cosine "
      "to 0, mini-batches drawn by a `torch.randperm` reshuffle each epoch (generator seeded with the "
      "model seed), cross-entropy loss. Accuracy below is measured in PyTorch (float32) on the committed "
      "`fmnist_test.npz` (5,000 images) and, for reference, on the full official test split.\n")
    descs = {
        "fmnist_cnn_bn": (
            "Small ResNet-style CNN with BatchNorm (`FmnistCnn(bn=True)` in `tools/sample_nets.py`): "
            "stem conv3x3 1→16 (no bias) + BN + ReLU at 28×28; residual basic block 16→16 (conv3x3-BN-ReLU-"
            "conv3x3-BN + identity, ReLU); basic block 16→32 with stride 2 and a 1×1 stride-2 conv + BN "
            "projection shortcut (14×14); MaxPool 2×2 (7×7); basic block 32→64 with 1×1 conv + BN projection "
            "(7×7); GlobalAveragePool (`nn.AdaptiveAvgPool2d(1)`); Flatten; Linear 64→10. "
            "Exported in eval mode with `training=TrainingMode.PRESERVE, do_constant_folding=False`: "
            "9 inference `BatchNormalization` nodes (1 output each, epsilon 1e-5, momentum 0.9 = PyTorch "
            "momentum 0.1), initializers named exactly as the PyTorch state_dict (running_mean/running_var "
            "included, num_batches_tracked not exported). Note: `block2.bn2.bias` == `block2.down_bn.bias` and "
            "`block3.bn2.bias` == `block3.down_bn.bias` bit for bit (both BN outputs feed the same Add, so they "
            "get identical gradients from identical zero initialisation); torch 1.13's eval-mode exporter would "
            "deduplicate them into one initializer plus an `Identity` node, so `make_samples.py` disables that "
            "pass (`_jit_pass_onnx_deduplicate_initializers`) and each keeps its own initializer. "
            "Training recipe: " + json.dumps(RECIPES["fmnist_cnn_bn"]) + "."),
        "fmnist_cnn_folded": (
            "The SAME trained network as `fmnist_cnn_bn.onnx` with each BatchNorm folded into the preceding "
            "conv, done explicitly in PyTorch (`sample_nets.fold_bn`, float64 arithmetic, stored float32: "
            "`W' = W·γ/√(var+ε)`, `b' = β − mean·γ/√(var+ε)`) into `FmnistCnn(bn=False)` (same layers, convs "
            "with bias, no BN), exported with `do_constant_folding=False` so that every initializer is a "
            "parameter of that module, by name (e.g. `stem.0.weight`, `stem.0.bias`). No BatchNormalization "
            "node. This is what a default eval-mode PyTorch export of the BN model gives, but with stable names."),
        "fmnist_mlp": (
            "MLP (`FmnistMlp`): Flatten → Linear 784→256 → ReLU → Linear 256→128 → ReLU → Linear 128→10 "
            "(exported as Flatten + Gemm). Training recipe: " + json.dumps(RECIPES["fmnist_mlp"]) + "."),
    }
    for name in ("fmnist_cnn_bn", "fmnist_cnn_folded", "fmnist_mlp"):
        d = info[name]
        a(f"### `{name}.onnx`\n")
        a(descs[name] + "\n")
        a(f"- Parameters: {d['params']:,}; forward cost {d['macs'] / 1e6:.2f} M multiply-adds "
          f"({2 * d['macs'] / 1e6:.1f} MFLOP) per image.")
        a(f"- Test accuracy (PyTorch, committed `fmnist_test.npz`): **{d['acc']:.2f} %** ({d['correct']}/{d['n']}); "
          f"per class (correct of 500): {d['per_class']}.")
        a(f"- Full official test split: {100.0 * d['correct_full'] / d['n_full']:.2f} % ({d['correct_full']}/{d['n_full']}).")
        a(f"- ONNX ops: {d['ops']}.")
        a(f"- File: {d['size']:,} bytes, sha256 `{d['sha256']}`.")
        a("- Initializers (name, shape, type):\n")
        a("| name | shape | type |\n|---|---|---|")
        for n_, s_, t_ in d["inits"]:
            a(f"| `{n_}` | {s_} | {t_} |")
        a("")
    with open(os.path.join(out, "PROVENANCE.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
