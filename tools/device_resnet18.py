#!/usr/bin/python3
"""A CIFAR-size torchvision ResNet-18 and synthetic CIFAR-shaped data, for GPU timing only.

    python3 tools/device_resnet18.py --out DIR [--train 10000] [--test 1000] [--seed 0] [--stem cifar|imagenet]

Writes DIR/cifar_resnet18.onnx (opset 13, input 'input' [N,3,32,32], output 'logits' [N,10],
BatchNorm kept, initializers named as the torch state_dict, like tools/make_samples.py exports),
DIR/cifar_synth_train.npz and DIR/cifar_synth_test.npz (x uint8 [N,3,32,32], y int64, classes
balanced). The weights are torchvision's random initialisation (seeded; BatchNorm values jittered
so that no two initializers are equal, which the exporter would merge) and the images are
noise around a per-class colour pattern: the figures it gives are times, not accuracies.
--stem cifar (default) is the usual CIFAR adaptation (3x3 stride-1 first conv, no max-pool,
about 0.56 GFLOP per image); --stem imagenet keeps torchvision's 7x7/2 stem and max-pool.
Used by tools/device-check.sh where no trained CIFAR model is at hand, and by
tools/unsir_torch_cuda.py (sample_nets' ARCHS entry 'cifar_resnet18').
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

STEM = os.environ.get("RESNET_STEM", "cifar")


def build(stem=None):
    import torchvision
    stem = stem or STEM
    m = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    return m


def synth(n, rng, patterns):
    y = np.arange(n, dtype=np.int64) % 10
    rng.shuffle(y)
    x = patterns[y] + rng.normal(0, 40, size=(n, 3, 32, 32))
    return np.clip(x, 0, 255).astype(np.uint8), y


def export(model, path):
    dummy = torch.randn(2, 3, 32, 32)
    kw = dict(export_params=True, opset_version=13, input_names=["input"], output_names=["logits"],
              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
              training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    try:
        torch.onnx.export(model, dummy, path, dynamo=False, **kw)  # torch >= 2.5: the TorchScript exporter
    except TypeError:
        torch.onnx.export(model, dummy, path, **kw)  # older torch: no dynamo argument
    except Exception as e:  # a torch without the TorchScript exporter: the dynamo one, opset 18
        print(f"TorchScript export failed ({type(e).__name__}: {e}); trying dynamo=True", file=sys.stderr)
        kw.update(opset_version=18)
        kw.pop("training")
        kw.pop("do_constant_folding")
        torch.onnx.export(model, (dummy,), path, dynamo=True, external_data=False, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stem", choices=["cifar", "imagenet"], default=STEM)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    model = build(a.stem).eval()
    # Fresh BatchNorms all hold the same tensors (gamma 1, beta 0, mean 0, var 1), and the exporter
    # merges equal initializers into one behind Identity nodes: make each distinct, as training would.
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.9, 1.1)
                mod.bias.normal_(0, 0.01)
                mod.running_mean.normal_(0, 0.01)
                mod.running_var.uniform_(0.9, 1.1)
    path = os.path.join(a.out, "cifar_resnet18.onnx")
    export(model, path)
    rng = np.random.default_rng(a.seed)
    patterns = rng.uniform(40, 215, size=(10, 3, 1, 1)) + rng.normal(0, 20, size=(10, 3, 32, 32))
    for name, n in (("train", a.train), ("test", a.test)):
        x, y = synth(n, rng, patterns)
        np.savez(os.path.join(a.out, f"cifar_synth_{name}.npz"), x=x, y=y)
    print(json.dumps(dict(model=path, stem=a.stem, params=sum(p.numel() for p in model.parameters()),
                          train=a.train, test=a.test, torch=torch.__version__)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
