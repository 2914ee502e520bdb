#!/usr/bin/python3
"""Write Fashion-MNIST images as an image folder (torchvision ImageFolder layout) for benchmarks.

    /usr/bin/python3 tools/make_image_folder.py --out /tmp/fmnist_folder --count 20000 --size 64 --rgb

Writes --count images (default 20,000) from the official Fashion-MNIST TRAIN split (IDX files,
MIT licence) into --out/<class>/<index>.<ext>, one sub-folder per class named "0_tshirt" …
"9_boot" (ordinal order = class index). The first --count images of the split are taken, so the
classes are near-balanced (the split is shuffled). --size upscales (bicubic) from 28×28, --rgb writes
3-channel images (gray replicated) and --format png|jpeg picks the encoding: a larger RGB image makes
decoding cost closer to real photo data sets. Needs numpy and PIL (Debian python3-numpy,
python3-pil). The output folder must not lie inside the repository; it is created, and an
existing one is refused unless --force, which replaces it.
"""
import argparse
import gzip
import os
import shutil
import struct
import sys
import time

import numpy as np
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["0_tshirt", "1_trouser", "2_pullover", "3_dress", "4_coat",
           "5_sandal", "6_shirt", "7_sneaker", "8_bag", "9_boot"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="/tmp/fmnist_folder")
    p.add_argument("--count", type=int, default=20000, help="images to write (at most 60,000)")
    p.add_argument("--size", type=int, default=28, help="side in pixels (28 = as stored)")
    p.add_argument("--rgb", action="store_true", help="write RGB instead of gray")
    p.add_argument("--format", choices=["png", "jpeg"], default="png")
    p.add_argument("--data", default=DATA, help="folder holding train-{images-idx3,labels-idx1}-ubyte.gz")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args()

    out = os.path.abspath(a.out)
    if out == REPO or out.startswith(REPO + os.sep):
        sys.exit(f"--out {out}: inside the repository; write it elsewhere (e.g. /tmp)")
    if os.path.exists(out):
        if not a.force:
            sys.exit(f"--out {out}: exists; pass --force to replace it")
        shutil.rmtree(out)

    images = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
    if not 1 <= a.count <= len(images):
        sys.exit(f"--count {a.count}: expected 1..{len(images)}")

    for name in CLASSES:
        os.makedirs(os.path.join(out, name))
    ext = "png" if a.format == "png" else "jpg"
    start = time.time()
    total = 0
    for i in range(a.count):
        img = Image.fromarray(images[i], "L")
        if a.size != 28:
            img = img.resize((a.size, a.size), Image.BICUBIC)
        if a.rgb:
            img = img.convert("RGB")
        path = os.path.join(out, CLASSES[labels[i]], f"{i:05d}.{ext}")
        if a.format == "png":
            img.save(path, "PNG")
        else:
            img.save(path, "JPEG", quality=90)
        total += os.path.getsize(path)
    print(f"{out}: {a.count} {'RGB' if a.rgb else 'gray'} {a.size}x{a.size} {a.format.upper()} images, "
          f"{total / 2**20:.1f} MiB, {time.time() - start:.1f} s; classes {np.bincount(labels[:a.count], minlength=10).tolist()}")


if __name__ == "__main__":
    main()
