"""Shared definitions for the OnnxUnlearn sample models (PyTorch side).

Used by tools/make_samples.py, tools/torch_fixtures.py and tools/unsir_torch.py.

Every torch module here has parameter/buffer names that equal the ONNX initializer
names of the committed models/*.onnx files, so weights can be loaded back from the
ONNX files with `load_from_onnx`.
"""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Fashion-MNIST normalisation used by every sample model: x = (u8/255 - MEAN) / STD
MEAN = 0.2860
STD = 0.3530
NUM_CLASSES = 10
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """Read an IDX file (optionally .gz) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dtype_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    assert dtype_code == 0x08, "only unsigned byte IDX supported"
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    return np.frombuffer(data, dtype=np.uint8, offset=off).reshape(shape).copy()


def load_fmnist(split, root=FMNIST_DIR):
    """Official split ('train' or 'test') -> (x uint8 [N,1,28,28], y int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    return x.reshape(-1, 1, 28, 28), y.astype(np.int64)


def load_npz(path):
    d = np.load(path)
    return d["x"], d["y"]


def preprocess(x_u8, dtype=torch.float32):
    """uint8 [N,1,28,28] -> normalised float tensor (computed in float64, then cast)."""
    x = torch.from_numpy(np.asarray(x_u8)).to(torch.float64)
    x = (x / 255.0 - MEAN) / STD
    return x.to(dtype)


# ----------------------------------------------------------------------------- models

class BasicBlock(nn.Module):
    """ResNet basic block. With bn=False every BatchNorm is absent (identity) and the
    convs carry a bias: that is the BN-folded form."""

    def __init__(self, cin, cout, stride=1, bn=True):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if bn else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)
        self.bn1 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not bn)
        self.bn2 = norm(cout)
        if stride != 1 or cin != cout:
            self.down_conv = nn.Conv2d(cin, cout, 1, stride, 0, bias=not bn)
            self.down_bn = norm(cout)
        else:
            self.down_conv = None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.down_conv is None else self.down_bn(self.down_conv(x))
        return F.relu(out + sc)


class FmnistCnn(nn.Module):
    """Small ResNet-style CNN for 1x28x28 input (77,754 parameters with BN).

    stem: conv3x3 1->16 + BN + ReLU                       28x28
    block1: basic block 16->16                            28x28
    block2: basic block 16->32, stride 2, 1x1 projection  14x14
    pool: MaxPool 2x2                                      7x7
    block3: basic block 32->64, 1x1 projection             7x7
    GlobalAveragePool, Flatten, Linear 64->10
    """

    def __init__(self, bn=True):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1, bias=not bn),
            nn.BatchNorm2d(16) if bn else nn.Identity(),
            nn.ReLU(),
        )
        self.block1 = BasicBlock(16, 16, 1, bn)
        self.block2 = BasicBlock(16, 32, 2, bn)
        self.pool = nn.MaxPool2d(2)
        self.block3 = BasicBlock(32, 64, 1, bn)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, NUM_CLASSES)

    def forward(self, x):
        x = self.stem(x)
        x = self.block1(x)
        x = self.block2(x)
        x = self.pool(x)
        x = self.block3(x)
        x = self.gap(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class FmnistMlp(nn.Module):
    """MLP 784-256-128-10 with ReLU; input [N,1,28,28] flattened inside."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, NUM_CLASSES)

    def forward(self, x):
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


ARCHS = {
    "fmnist_cnn_bn": lambda: FmnistCnn(bn=True),
    "fmnist_cnn_folded": lambda: FmnistCnn(bn=False),
    "fmnist_mlp": lambda: FmnistMlp(),
}


def arch_from_path(path):
    """Pick the architecture from an ONNX file name (e.g. models/fmnist_cnn_bn.onnx)."""
    base = os.path.basename(path)
    stem = base[:-5] if base.endswith(".onnx") else base
    if stem in ARCHS:
        return stem
    for k in sorted(ARCHS, key=len, reverse=True):
        if k in stem:
            return k
    raise ValueError(f"cannot infer architecture from file name {path!r}; "
                     f"known: {sorted(ARCHS)}")


def fold_bn(model_bn):
    """Return FmnistCnn(bn=False) whose conv weights/biases are model_bn's BN folded
    into its convs (computed in float64, stored float32). model_bn is not modified."""
    folded = FmnistCnn(bn=False)
    sd = {k: v.detach().to(torch.float64) for k, v in model_bn.state_dict().items()}
    out = {}
    pairs = [("stem.0", "stem.1")]
    for b in ("block1", "block2", "block3"):
        pairs += [(f"{b}.conv1", f"{b}.bn1"), (f"{b}.conv2", f"{b}.bn2")]
        if f"{b}.down_conv.weight" in sd:
            pairs.append((f"{b}.down_conv", f"{b}.down_bn"))
    for conv, bn in pairs:
        bnmod = dict(model_bn.named_modules())[bn]
        scale = sd[f"{bn}.weight"] / torch.sqrt(sd[f"{bn}.running_var"] + bnmod.eps)
        out[f"{conv}.weight"] = sd[f"{conv}.weight"] * scale.view(-1, 1, 1, 1)
        out[f"{conv}.bias"] = sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale
    out["fc.weight"] = sd["fc.weight"]
    out["fc.bias"] = sd["fc.bias"]
    folded.load_state_dict({k: v.to(torch.float32) for k, v in out.items()}, strict=True)
    return folded


def onnx_initializers(path):
    """name -> numpy array for every initializer of an ONNX file."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def load_from_onnx(path, arch=None):
    """Build the torch module for `path` and load every parameter and buffer from the
    ONNX initializers of the same name. Returns the module (float32, eval mode)."""
    arch = arch or arch_from_path(path)
    model = ARCHS[arch]()
    inits = onnx_initializers(path)
    sd = model.state_dict()
    new_sd = {}
    for k, v in sd.items():
        if k in inits:
            a = torch.from_numpy(np.array(inits[k]))
            assert tuple(a.shape) == tuple(v.shape), (k, a.shape, v.shape)
            new_sd[k] = a.to(v.dtype)
        elif k.endswith("num_batches_tracked"):
            new_sd[k] = torch.zeros_like(v)  # not exported; irrelevant with momentum 0.1
        else:
            raise KeyError(f"{path}: no initializer named {k!r}")
    model.load_state_dict(new_sd, strict=True)
    return model.eval()


def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def count_params(model):
    return sum(p.numel() for p in model.parameters())
