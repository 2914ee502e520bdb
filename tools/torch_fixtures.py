#!/usr/bin/python3
"""PyTorch reference fixtures for the OnnxUnlearn C# tests.

    /usr/bin/python3 tools/torch_fixtures.py --models models --out tests/fixtures

Every torch module is rebuilt from the committed ONNX file (weights loaded by
initializer name, tools/sample_nets.py), so the fixtures are consistent with the
ONNX files bit for bit. All arithmetic is float64 (module.double(), inputs are the
float32 values stored in the fixture cast to float64); results are stored float32.

Writes:
  grad_fmnist_cnn_bn_train.npz   BN in training mode (batch statistics, running stats updated)
  grad_fmnist_cnn_bn_frozen.npz  BN in inference mode (running statistics)
  grad_fmnist_cnn_folded.npz
  grad_fmnist_mlp.npz
  train_steps.json, train_sgd.npz, train_adam.npz, train_adamw.npz
  README.md (key conventions)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_nets as sn  # noqa: E402

GRAD_BATCH = 64
TRAIN_STEPS = dict(
    model="fmnist_cnn_bn",
    model_file="models/fmnist_cnn_bn.onnx",
    data="models/fmnist_train.npz",
    preprocessing="x = (u8/255 - 0.2860)/0.3530, float32",
    batch_size=32,
    steps=20,
    batches="file order, no shuffle: step i uses samples [32*i, 32*(i+1)), i = 0..19",
    bn_mode="train",
    bn_note="BatchNorm uses batch statistics (biased variance) for normalisation; running stats "
            "updated every step with PyTorch momentum 0.1 (= ONNX momentum 0.9), running_var from the "
            "unbiased batch variance (M/(M-1), M = N*H*W)",
    loss="mean softmax cross-entropy on logits",
    losses="losses[i] = loss at step i computed BEFORE step i's update",
    precision="float64 computation, stored float32",
    optimizers=["sgd", "adam", "adamw"],
    sgd=dict(type="torch.optim.SGD", lr=0.001, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=5e-4,
             update="g = grad + wd*p; buf = g at step 0 else momentum*buf + g; p -= lr*buf"),
    adam=dict(type="torch.optim.Adam", lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0, amsgrad=False,
              update="g = grad + wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; "
                     "p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), t = 1,2,..."),
    adamw=dict(type="torch.optim.AdamW", lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, amsgrad=False,
               update="p *= 1 - lr*wd; then Adam update without L2 term"),
    trained_parameters="every torch parameter (conv weights, BN weight/bias, fc weight/bias); "
                       "running stats are buffers, not optimised",
    files={"sgd": "train_sgd.npz", "adam": "train_adam.npz", "adamw": "train_adamw.npz"},
)


def model64(models_dir, name):
    m = sn.load_from_onnx(os.path.join(models_dir, f"{name}.onnx"))
    return m.double()


def batch(models_dir, start, n):
    x_u8, y = sn.load_npz(os.path.join(models_dir, "fmnist_train.npz"))
    x32 = sn.preprocess(x_u8[start:start + n], torch.float32)
    return x32, torch.from_numpy(y[start:start + n].astype(np.int64))


def f32(t):
    return t.detach().to(torch.float32).numpy()


def grad_fixture(models_dir, name, train_mode):
    model = model64(models_dir, name)
    model.train(train_mode)
    x32, y = batch(models_dir, 0, GRAD_BATCH)
    x = x32.double().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    out = {"x": x32.numpy(), "y": y.numpy(), "loss": np.array(loss.item(), dtype=np.float32)}
    for k, p in model.named_parameters():
        out[k] = f32(p.grad)
    out["input_grad:input"] = f32(x.grad)
    if train_mode:
        for k, b in model.named_buffers():
            if "running_" in k:
                out[f"running:{k}"] = f32(b)
    return out, loss.item()


def float32_deviation(models_dir, name, train_mode, ref):
    """How far plain float32 PyTorch is from the float64 reference: for each key,
    max|a32 - ref| / max|ref|. Returned as the worst key and its value (tolerance hint)."""
    model = sn.load_from_onnx(os.path.join(models_dir, f"{name}.onnx")).train(train_mode)
    x = torch.from_numpy(ref["x"]).requires_grad_(True)
    loss = F.cross_entropy(model(x), torch.from_numpy(ref["y"]))
    loss.backward()
    got = {k: p.grad.numpy() for k, p in model.named_parameters()}
    got["input_grad:input"] = x.grad.numpy()
    got["loss"] = np.array(loss.item(), dtype=np.float32)
    dev = {k: float(np.abs(v - ref[k]).max() / max(np.abs(ref[k]).max(), 1e-30)) for k, v in got.items()}
    worst = max(dev, key=dev.get)
    return worst, dev[worst], dev["input_grad:input"]


def make_optimizer(opt_name, parameters):
    cfg = TRAIN_STEPS[opt_name]
    if opt_name == "sgd":
        return torch.optim.SGD(parameters, lr=cfg["lr"], momentum=cfg["momentum"], dampening=cfg["dampening"],
                               nesterov=cfg["nesterov"], weight_decay=cfg["weight_decay"])
    if opt_name == "adam":
        return torch.optim.Adam(parameters, lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"],
                                weight_decay=cfg["weight_decay"], amsgrad=False)
    return torch.optim.AdamW(parameters, lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"],
                             weight_decay=cfg["weight_decay"], amsgrad=False)


def train_fixture(models_dir, opt_name):
    model = model64(models_dir, TRAIN_STEPS["model"]).train()
    opt = make_optimizer(opt_name, model.parameters())
    bs, steps = TRAIN_STEPS["batch_size"], TRAIN_STEPS["steps"]
    losses = []
    for i in range(steps):
        x32, y = batch(models_dir, bs * i, bs)
        loss = F.cross_entropy(model(x32.double()), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = {"losses": np.array(losses, dtype=np.float32)}
    for k, p in model.named_parameters():
        out[f"param:{k}"] = f32(p)
    for k, b in model.named_buffers():
        if "running_" in k:
            out[f"running:{k}"] = f32(b)
    return out, losses


def float32_loss_deviation(models_dir, opt_name, ref_losses, trials=4):
    """How far plain float32 PyTorch training drifts from the float64 reference losses: per step,
    the largest |loss32 - ref| / ref over `trials` runs (the first with the exact weights, the others
    with every weight scaled by 1 + 1e-7 * N(0, 1), seeded). Float32 trajectories diverge once a
    rounding difference flips a discrete choice (a ReLU or max-pool boundary) and Adam scales
    near-zero gradients to full-size steps, so this is the floor any float32 implementation can
    promise; the C# test allows max(1e-4, this) per step."""
    cfg = TRAIN_STEPS[opt_name]
    bs = TRAIN_STEPS["batch_size"]
    worst = np.zeros(len(ref_losses))
    generator = torch.Generator().manual_seed(0)
    for trial in range(trials):
        model = sn.load_from_onnx(os.path.join(models_dir, f"{TRAIN_STEPS['model']}.onnx")).train()
        if trial > 0:
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(1 + 1e-7 * torch.randn(p.shape, generator=generator))
        opt = make_optimizer(opt_name, model.parameters())
        for i, ref in enumerate(ref_losses):
            x32, y = batch(models_dir, bs * i, bs)
            loss = F.cross_entropy(model(x32), y)
            worst[i] = max(worst[i], abs(loss.item() - ref) / ref)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return [float(f"{v:.3g}") for v in worst]


def describe(arrs):
    return {k: [list(v.shape), str(v.dtype)] for k, v in arrs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="models")
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    listing = {}
    deviations = {}

    for fname, name, train_mode in (
            ("grad_fmnist_cnn_bn_train.npz", "fmnist_cnn_bn", True),
            ("grad_fmnist_cnn_bn_frozen.npz", "fmnist_cnn_bn", False),
            ("grad_fmnist_cnn_folded.npz", "fmnist_cnn_folded", False),
            ("grad_fmnist_mlp.npz", "fmnist_mlp", False)):
        arrs, loss = grad_fixture(args.models, name, train_mode)
        np.savez_compressed(os.path.join(args.out, fname), **arrs)
        listing[fname] = describe(arrs)
        deviations[fname] = float32_deviation(args.models, name, train_mode, arrs)
        print(f"{fname}: loss {loss:.6f}, {len(arrs)} arrays, "
              f"{os.path.getsize(os.path.join(args.out, fname)):,} bytes", flush=True)

    float32_drift = {}
    for opt_name in TRAIN_STEPS["optimizers"]:
        fname = TRAIN_STEPS["files"][opt_name]
        arrs, losses = train_fixture(args.models, opt_name)
        np.savez_compressed(os.path.join(args.out, fname), **arrs)
        listing[fname] = describe(arrs)
        float32_drift[opt_name] = float32_loss_deviation(args.models, opt_name, losses)
        print(f"{fname}: losses {losses[0]:.4f} .. {losses[-1]:.4f} (min {min(losses):.4f}), "
              f"float32 PyTorch drift up to {max(float32_drift[opt_name]):.1e}, "
              f"{os.path.getsize(os.path.join(args.out, fname)):,} bytes", flush=True)
    with open(os.path.join(args.out, "train_steps.json"), "w") as f:
        json.dump({**TRAIN_STEPS, "float32_pytorch_loss_deviation": float32_drift}, f, indent=2)
        f.write("\n")

    write_readme(args.out, listing, deviations)


def write_readme(out, listing, deviations):
    L = ["# PyTorch reference fixtures", "",
         "Generated by `/usr/bin/python3 tools/torch_fixtures.py --models models --out tests/fixtures` "
         f"(PyTorch {torch.__version__}); deterministic, no random numbers involved. Weights are loaded "
         "from the committed `models/*.onnx` by initializer name. Computation in float64, arrays stored "
         "float32 (`y` int64). Files are `np.savez_compressed` archives (zip, deflate; one `.npy` per key, "
         "little-endian, C order).", "",
         "Conventions:",
         "- `x`: the first 64 samples of `models/fmnist_train.npz`, preprocessed "
         "`(u8/255 - 0.2860)/0.3530` to float32 `[64,1,28,28]`; `y`: their labels. The float64 "
         "reference used exactly these float32 values.",
         "- `loss`: scalar (shape `[]`), mean softmax cross-entropy of the logits.",
         "- `<initializer name>`: dLoss/dParameter for every trainable parameter (conv/fc weight and bias, "
         "BN weight = scale and bias), named exactly as the ONNX initializer. Running statistics are not "
         "parameters and have no gradient entry.",
         "- `input_grad:input`: dLoss/d`input`.",
         "- `running:<initializer name>` (BN train mode only): running_mean / running_var after that one "
         "forward pass (momentum 0.1 in PyTorch terms = ONNX momentum 0.9; running_var updated with the "
         "unbiased batch variance; normalisation uses the biased one).",
         "- `grad_fmnist_cnn_bn_train.npz`: BN with batch statistics (model.train()); "
         "`grad_fmnist_cnn_bn_frozen.npz`: BN with running statistics (model.eval(), an affine map).",
         "- `train_<opt>.npz`: `losses` float32 `[20]` (loss at step i before step i's update), final "
         "parameters `param:<name>` and final running stats `running:<name>` after 20 steps. Recipe in "
         "`train_steps.json`, whose `float32_pytorch_loss_deviation` gives, per optimizer and step, how far "
         "plain float32 PyTorch runs of the same recipe (exact and 1e-7-perturbed weights) drift from these "
         "float64 losses (max |loss32 - ref| / ref).", "",
         "Tolerance hint: plain float32 PyTorch (same inputs) deviates from these float64 references by "
         "at most (max|diff| / max|ref| over one array):", ""]
    for fname, (worst, v, vin) in deviations.items():
        L.append(f"- `{fname}`: worst array `{worst}` {v:.1e}; `input_grad:input` {vin:.1e}")
    L += ["", "## Keys (shape, dtype)", ""]
    for fname, d in listing.items():
        L.append(f"### `{fname}`")
        L.append("")
        for k, (shape, dt) in d.items():
            L.append(f"- `{k}` {shape} {dt}")
        L.append("")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
