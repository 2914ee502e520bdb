#!/usr/bin/python3
"""Coverage matrix of real PyTorch exporter output, with float64 autograd references.

    /usr/bin/python3 tools/export_matrix.py --out tests/fixtures/matrix
    /usr/bin/python3 tools/export_matrix.py --full --out out/matrix-full [--size 224]

Every model is built from torchvision's own building blocks (BasicBlock, InvertedResidual,
MBConv, Conv2dNormActivation, make_layers, Fire) with tiny widths, or, with --full, by the real
torchvision constructors; plus a small vision transformer defined here. Random weights from a
fixed seed (BatchNorm/LayerNorm affine parameters and running statistics drawn too, so that no
two parameters are equal and folding is not an identity). Input float32 [N,3,32,32], 10 classes.

Each model is exported with torch.onnx.export in opsets 11, 13, 17 with a dynamic batch axis
('N') and with a fixed batch of 4, and in opsets 7, 8, 9, 10 with the dynamic batch axis only
(where torch's exporter accepts the model at that opset: the ones it refuses are listed in the
manifest's "refused", with the exporter's message); in two modes:
  eval      training=TrainingMode.EVAL, do_constant_folding=True: what a default export writes
            (BatchNorm folded into the convolutions, Linear weights of 3-D MatMuls pre-transposed,
            constants folded into new 'onnx::...' initializers)
  preserve  training=TrainingMode.PRESERVE on a model in eval(), do_constant_folding=False:
            BatchNormalization nodes kept, initializers named after the state_dict
File names: <model>_<mode>_op<opset>_<dyn|fixed>.onnx.

Gradient fixtures (float64 autograd, stored float32) do not depend on the opset or the batch
axis, so there is one per (model, mode, BatchNorm behaviour): grad_<model>_<kind>.npz with
kind = folded (eval exports: the conv+BN pairs fused by torch.fx, gradients with respect to the
fused weights the exporter writes), frozen (preserve exports, BN on running statistics) and
train (preserve exports, BN on batch statistics, running statistics updated); grad_<model>.npz for
models without BatchNorm, where both modes compute the same function. Keys: loss [], <torch parameter name> (its gradient), input_grad:input, running:<buffer name>
(train only); the batch itself, shared by all, is inputs.npz (x, y). manifest.json maps each ONNX file to its fixtures and each trainable ONNX
initializer to the torch parameter it holds (matched by value; "transposed" when the exporter
stored the transpose), and lists the running-statistic initializers.
"""
import argparse
import copy
import json
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.fx.experimental.optimization as fx_opt
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import efficientnet, mobilenetv2, mobilenetv3, resnet, squeezenet, vgg

SEED = 20240611
BATCH = 4
CLASSES = 10
OPSETS = (11, 13, 17)
LOW_OPSETS = (7, 8, 9, 10)  # dynamic batch only; what the exporter refuses is recorded, not faked
MODES = ("eval", "preserve")


# ---------------------------------------------------------------- tiny torchvision models

class TinyResNet(resnet.ResNet):
    """torchvision's ResNet (7×7 stem, max pool, BasicBlock stages, avgpool, fc) with small widths;
    forward and _make_layer are torchvision's."""

    def __init__(self, widths=(8, 12, 16, 16), layers=(1, 1, 1, 1), num_classes=CLASSES):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(resnet.BasicBlock, widths[0], layers[0])
        self.layer2 = self._make_layer(resnet.BasicBlock, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(resnet.BasicBlock, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(resnet.BasicBlock, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)


def tiny_mobilenet_v2():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2], [4, 48, 1, 2]]
    m = mobilenetv2.MobileNetV2(num_classes=CLASSES, width_mult=0.5, inverted_residual_setting=setting)
    # torchvision keeps the last 1×1 conv at 1280 channels whatever the width: shrink it.
    last_in = m.features[-1][0].in_channels
    m.features[-1] = torchvision.ops.Conv2dNormActivation(last_in, 48, kernel_size=1, norm_layer=nn.BatchNorm2d,
                                                          activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(48, CLASSES)
    return m


def tiny_mobilenet_v3_small():
    setting, _ = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5)
    # stem conv + HardSwish, blocks with squeeze-excite (HardSigmoid) and ReLU/HardSwish, head
    return mobilenetv3.MobileNetV3(setting[:4], last_channel=48, num_classes=CLASSES)


def tiny_efficientnet_b0():
    setting, last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    return efficientnet.EfficientNet(setting[:4], dropout=0.2, num_classes=CLASSES, last_channel=48)


class TinyVgg(vgg.VGG):
    """torchvision's VGG (make_layers features with BatchNorm, adaptive average pool, 3-layer
    classifier with ReLU and Dropout) with a small configuration; forward is torchvision's."""

    def __init__(self, num_classes=CLASSES):
        nn.Module.__init__(self)
        self.features = vgg.make_layers([8, "M", 12, "M", 16, 16, "M", 24, 24], batch_norm=True)
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(24 * 2 * 2, 32), nn.ReLU(True), nn.Dropout(),
            nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(),
            nn.Linear(32, num_classes))


class TinySqueezeNet(squeezenet.SqueezeNet):
    """torchvision's SqueezeNet 1.1 layout (stem conv, ceil-mode max pools, Fire modules with
    Concat, dropout + 1×1 conv classifier, adaptive average pool) with small widths; forward is
    torchvision's. The stem conv is padded so that every ceil-mode pool rounds up at 32×32."""

    def __init__(self, num_classes=CLASSES):
        nn.Module.__init__(self)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            squeezenet.Fire(16, 4, 8, 8), squeezenet.Fire(16, 4, 8, 8),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            squeezenet.Fire(16, 8, 16, 16), squeezenet.Fire(32, 8, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            squeezenet.Fire(32, 8, 24, 24))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Conv2d(48, num_classes, kernel_size=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)))


class Block(nn.Module):
    """Pre-norm transformer encoder block; attention written out (MatMul, Softmax) so that the
    export shows the ops a hand-written transformer produces."""

    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class TinyViT(nn.Module):
    """Patch-embedding conv, class token (Concat), learned position embedding, two encoder
    blocks, final LayerNorm, class-token readout (Gather) and a linear head."""

    def __init__(self, image=32, patch=8, dim=24, depth=2, heads=2, mlp=48, num_classes=CLASSES):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


TINY = {
    "resnet18": TinyResNet,
    "mobilenet_v2": tiny_mobilenet_v2,
    "mobilenet_v3_small": tiny_mobilenet_v3_small,
    "efficientnet_b0": tiny_efficientnet_b0,
    "vgg11_bn": TinyVgg,
    "squeezenet1_1": TinySqueezeNet,
    "vit": TinyViT,
}

FULL = {
    "resnet18": lambda: torchvision.models.resnet18(num_classes=CLASSES),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(num_classes=CLASSES),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(num_classes=CLASSES),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(num_classes=CLASSES),
    "vgg11_bn": lambda: torchvision.models.vgg11_bn(num_classes=CLASSES),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(num_classes=CLASSES),
    "vit": lambda: TinyViT(image=224, patch=16, dim=192, depth=12, heads=3, mlp=768),
}


def build(name, full, seed):
    torch.manual_seed(seed)
    model = (FULL if full else TINY)[name]()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=g) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=g) + 0.5)
            elif isinstance(module, nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=g) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
        for p in model.parameters():
            # zero or constant initialisations (biases, class token, position embedding): distinct values
            if p.numel() > 1 and float(p.std()) == 0:
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return model.eval()


def export(model, path, opset, dynamic, mode, size):
    x = torch.zeros(BATCH, 3, size, size)
    torch.onnx.export(
        model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}} if dynamic else None,
        training=torch.onnx.TrainingMode.EVAL if mode == "eval" else torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=mode == "eval")


# ---------------------------------------------------------------- gradient references

def has_batch_norm(model):
    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def batch_norm_train(model):
    """BatchNorm layers on batch statistics; everything else (Dropout, StochasticDepth) in eval."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.train()
    return model


def reference(model, kind, x32, y):
    m = copy.deepcopy(model).double().eval()
    if kind == "folded" and has_batch_norm(m):
        m = fx_opt.fuse(m)
    elif kind == "train":
        batch_norm_train(m)
    x = x32.double().requires_grad_(True)
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    out = {"loss": np.array(loss.item(), dtype=np.float32)}
    params = {}
    for k, p in m.named_parameters():
        out[k] = p.grad.float().numpy()
        params[k] = p.detach().numpy()
    out["input_grad:input"] = x.grad.float().numpy()
    if kind == "train":
        for k, b in m.named_buffers():
            if "running_" in k:
                out[f"running:{k}"] = b.float().numpy()
    buffers = {k: b.numpy() for k, b in m.named_buffers() if "running_" in k}
    return out, params, buffers


def float32_deviation(model, kind, ref, x32, y):
    """max|float32 torch − float64 reference| / max(max|reference|, 1e-3 · the largest parameter
    gradient) over every gradient array: the tolerance hint, with the tests' floor for gradients
    that vanish exactly."""
    m = copy.deepcopy(model).eval()
    if kind == "folded" and has_batch_norm(m):
        m = fx_opt.fuse(m)
    elif kind == "train":
        batch_norm_train(m)
    x = x32.clone().requires_grad_(True)
    F.cross_entropy(m(x), y).backward()
    got = {k: p.grad.numpy() for k, p in m.named_parameters()}
    floor = {k: 1e-3 * max(float(np.abs(ref[k]).max()) for k in got) for k in got}
    got["input_grad:input"] = x.grad.numpy()
    return max(float(np.abs(v - ref[k]).max() / max(np.abs(ref[k]).max(), floor.get(k, 0), 1e-30))
               for k, v in got.items())


def match_initializers(path, params, buffers):
    """Each float initializer of the ONNX file → the torch parameter (or running statistic) with
    the same values, directly or transposed. Raises if a parameter or initializer is left over."""
    onnx_model = onnx.load(path)
    bn_stats = {n.input[i] for n in onnx_model.graph.node if n.op_type == "BatchNormalization" for i in (3, 4)}
    names, running, flipped, unused = {}, {}, [], set(params)
    for init in onnx_model.graph.initializer:
        a = onnx.numpy_helper.to_array(init)
        if a.dtype != np.float32 or a.size <= 1:
            continue
        found = None
        for pool, into in ((buffers, running), (params, names)):
            for k, v in pool.items():
                for transposed, cand in ((False, v), (True, v.T if v.ndim == 2 else None)):
                    if cand is not None and cand.shape == a.shape and \
                            np.abs(cand - a).max() <= 1e-5 * max(np.abs(cand).max(), 1e-6):
                        found = (into, k, transposed)
                        break
                if found:
                    break
            if found:
                break
        if found is None:
            raise SystemExit(f"{path}: initializer '{init.name}' {list(a.shape)} matches no torch parameter")
        into, k, transposed = found
        if into is running:
            if init.name not in bn_stats:
                raise SystemExit(f"{path}: initializer '{init.name}' holds running statistic {k} outside a BatchNormalization")
            running[init.name] = k
        else:
            names[init.name] = k
            if transposed:
                flipped.append(init.name)
            unused.discard(k)
    if unused:
        raise SystemExit(f"{path}: torch parameters with no initializer: {sorted(unused)}")
    return names, flipped, running


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures/matrix")
    ap.add_argument("--full", action="store_true", help="real torchvision constructors; no gradient fixtures")
    ap.add_argument("--size", type=int, default=32, help="input height and width (224 for the --full ImageNet layout)")
    ap.add_argument("--models", default=",".join(TINY), help="comma-separated subset")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    manifest = {"torch": torch.__version__, "torchvision": torchvision.__version__, "batch": BATCH,
                "classes": CLASSES, "size": args.size, "models": [], "refused": []}
    g = torch.Generator().manual_seed(SEED + 2)
    x32 = torch.randn(BATCH, 3, args.size, args.size, generator=g)
    y = torch.tensor([3, 0, 7, 3])
    if not args.full:
        np.savez_compressed(os.path.join(args.out, "inputs.npz"), x=x32.numpy(), y=y.numpy())
    for name in args.models.split(","):
        model = build(name, args.full, SEED)
        # without BatchNorm both modes compute the same function: one fixture, "plain"
        kinds = {"eval": ["folded"], "preserve": ["frozen", "train"]} if has_batch_norm(model) \
            else {"eval": ["plain"], "preserve": ["plain"]}
        refs = {}
        if not args.full:
            for kind in ("folded", "frozen", "train", "plain"):
                if kind in kinds["eval"] + kinds["preserve"]:
                    arrs, params, buffers = reference(model, kind, x32, y)
                    fixture = f"grad_{name}.npz" if kind == "plain" else f"grad_{name}_{kind}.npz"
                    np.savez_compressed(os.path.join(args.out, fixture), **arrs)
                    refs[kind] = (fixture, params, buffers)
                    print(f"{fixture}: loss {arrs['loss']:.6f}, float32 torch deviation "
                          f"{float32_deviation(model, kind, arrs, x32, y):.1e}, "
                          f"{os.path.getsize(os.path.join(args.out, fixture)):,} bytes", flush=True)
        for mode in MODES:
            variants = [(opset, dynamic) for opset in OPSETS for dynamic in (True, False)] + [(opset, True) for opset in LOW_OPSETS]
            for opset, dynamic in variants:
                file = f"{name}_{mode}_op{opset}_{'dyn' if dynamic else 'fixed'}.onnx"
                path = os.path.join(args.out, file)
                try:
                    export(model, path, opset, dynamic, mode, args.size)
                except (torch.onnx.errors.OnnxExporterError, onnx.checker.ValidationError) as e:
                    if opset not in LOW_OPSETS:
                        raise
                    if os.path.exists(path):
                        os.remove(path)
                    reason = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    manifest["refused"].append({"file": file, "model": name, "mode": mode, "opset": opset, "reason": reason})
                    print(f"{file}: refused by the exporter ({reason})", flush=True)
                    continue
                ops = sorted({n.op_type for n in onnx.load(path).graph.node})
                entry = {"file": file, "model": name, "mode": mode, "opset": opset,
                         "batch": "dynamic" if dynamic else BATCH, "ops": ops}
                if refs:
                    fixture, params, buffers = refs[kinds[mode][0]]
                    entry["names"], entry["transposed"], entry["running"] = match_initializers(path, params, buffers)
                    entry["fixtures"] = {k: refs[k][0] for k in kinds[mode]}
                manifest["models"].append(entry)
                print(f"{file}: {os.path.getsize(path):,} bytes, {len(ops)} op types", flush=True)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
