#!/usr/bin/python3
"""tools/unsir_torch.py on a chosen torch device (default cuda), without editing it.

    python3 tools/unsir_torch_cuda.py --device cuda --model models/fmnist_cnn_bn.onnx \\
        --data models/fmnist_train.npz --test models/fmnist_test.npz --classes 0 \\
        --impair-lr 0.002 --repair-lr 0.001 --json

Every option of unsir_torch.py is passed through; this adds --device and --no-warmup. The
reference script makes its tensors with torch.from_numpy / randn / randperm / full and a CPU
torch.Generator; here its `torch` and `time` names are swapped for thin stand-ins that put those
tensors, the generator and the model on the device, and that synchronise the device before each
clock reading, so that the per-phase times are the device's. The random streams of a CUDA
generator differ from the CPU's: the noise is not bit-identical to a CPU run (same distribution).

Before the timed run, one forward/backward/Adam step on a throw-away copy of the architecture
warms up cuDNN/cuBLAS (its time is reported as config.warmup_s; --no-warmup skips it).

Also runs models whose file name contains 'cifar_resnet18' (tools/device_resnet18.py: torchvision
ResNet-18, 3x32x32 input, CIFAR-10 normalisation): the reference's 1x28x28 noise shape and
Fashion-MNIST normalisation are replaced by the model's.
"""
import argparse
import os
import sys
import time as _time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sample_nets as sn  # noqa: E402
import unsir_torch as ut  # noqa: E402

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # the CLI's cifar10 preset (src/OnnxUnlearn/Data/Preprocessing.cs)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

_dev = torch.device("cpu")
_sample_shape = (1, 28, 28)


def _sync():
    if _dev.type == "cuda":
        torch.cuda.synchronize(_dev)


class _TorchOnDevice:
    """Stands for the `torch` module inside unsir_torch: the factories it calls make tensors on the device."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def from_numpy(a):
        return torch.from_numpy(a).to(_dev)

    @staticmethod
    def Generator(device=None):  # noqa: N802 (torch's name)
        return torch.Generator(device=_dev)

    @staticmethod
    def randn(*size, **kw):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = tuple(size[0])
        if tuple(size[1:]) == (1, 28, 28):  # make_noise's hard-coded Fashion-MNIST sample shape
            size = (size[0],) + tuple(_sample_shape)
        kw["device"] = _dev
        return torch.randn(*size, **kw)

    @staticmethod
    def randperm(n, **kw):
        kw["device"] = _dev
        return torch.randperm(n, **kw)

    @staticmethod
    def full(size, fill_value, **kw):
        kw["device"] = _dev
        return torch.full(size, fill_value, **kw)


class _SyncedTime:
    """Stands for the `time` module inside unsir_torch: perf_counter waits for the device first."""

    def __getattr__(self, name):
        return getattr(_time, name)

    @staticmethod
    def perf_counter():
        _sync()
        return _time.perf_counter()


def _install(device):
    global _dev
    _dev = torch.device(device)
    if _dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"unsir_torch_cuda: --device {device}: torch {torch.__version__} sees no CUDA device")

    sn.ARCHS.setdefault("cifar_resnet18", _resnet18)
    orig_pre, orig_load = sn.preprocess, sn.load_from_onnx

    def preprocess(x_u8, dtype=torch.float32):
        x = np.asarray(x_u8)
        if x.ndim == 4 and x.shape[1] == 3:  # CIFAR-size data: the CLI's cifar10 preset
            t = torch.from_numpy(x).to(torch.float64) / 255.0
            m = torch.tensor(CIFAR_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
            s = torch.tensor(CIFAR_STD, dtype=torch.float64).view(1, 3, 1, 1)
            return ((t - m) / s).to(dtype).to(_dev)
        return orig_pre(x_u8, dtype).to(_dev)

    def load_from_onnx(path, arch=None):
        _prepare(path)
        return orig_load(path, arch).to(_dev)

    sn.preprocess, sn.load_from_onnx = preprocess, load_from_onnx
    ut.torch = _TorchOnDevice()
    ut.time = _SyncedTime()


def _prepare(path):
    """Sample shape from the model's input; for the ResNet, its stem from conv1's kernel size."""
    global _sample_shape
    import onnx
    g = onnx.load(path, load_external_data=False).graph
    shape = tuple(d.dim_value for d in g.input[0].type.tensor_type.shape.dim[1:])
    if len(shape) == 3 and all(shape):
        _sample_shape = shape
    if "cifar_resnet18" in os.path.basename(path):
        import device_resnet18
        k = [list(i.dims) for i in g.initializer if i.name == "conv1.weight"]
        if k:
            device_resnet18.STEM = "cifar" if k[0][-1] == 3 else "imagenet"


def _resnet18():
    import device_resnet18
    return device_resnet18.build()


def _warmup(args):
    """One forward/backward/Adam step of a throw-away model of the same architecture."""
    t0 = _time.perf_counter()
    arch = sn.arch_from_path(args.model)
    torch.manual_seed(12345)
    m = sn.ARCHS[arch]().to(_dev).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    shape = _sample_shape
    for bs in (args.batch, args.noise_batch):
        x = torch.randn(bs, *shape, device=_dev, requires_grad=True)
        y = torch.randint(0, sn.NUM_CLASSES, (bs,), device=_dev)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        m.eval()(torch.randn(1000, *shape, device=_dev))
    _sync()
    return _time.perf_counter() - t0


def main():
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--device", default="cuda")
    pre.add_argument("--no-warmup", action="store_true")
    own, rest = pre.parse_known_args()
    if "-h" in rest or "--help" in rest:
        print(__doc__)
    sys.argv = [sys.argv[0]] + rest
    args = ut.parse_args(rest)
    _install(own.device)
    _prepare(args.model)
    warm = None if own.no_warmup else _warmup(args)

    orig_run = ut.run

    def run(a):
        r = orig_run(a)
        r["config"].update(device=str(_dev), warmup_s=warm,
                           gpu=torch.cuda.get_device_name(_dev) if _dev.type == "cuda" else None,
                           cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                           matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32)
        return r

    ut.run = run
    if not args.json:
        print(f"device {_dev}" + ("" if warm is None else f" (warm-up {warm:.2f} s, not timed below)"))
    ut.main()


if __name__ == "__main__":
    main()
