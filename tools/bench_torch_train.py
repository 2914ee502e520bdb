#!/usr/bin/python3
"""PyTorch side of the training-step benchmark (tools/bench.sh): the recipe of
`onnx-unlearn train` (Adam lr 1e-3, BatchNorm in train mode, cross-entropy, shuffled batches)
on the same data and weights, timed over --steps steps after --warmup untimed ones.

    /usr/bin/python3 tools/bench_torch_train.py --model models/fmnist_cnn_bn.onnx \\
        --data models/fmnist_train.npz --batch 256 --steps 40 --threads 2

Prints one JSON object: {"images_per_second": ..., "steps": ..., "batch": ..., "seconds": ...}.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=40, help="timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    model = sn.load_from_onnx(args.model).train().to(dev)
    x, y = sn.load_npz(args.data)
    x, y = sn.preprocess(x).to(dev), torch.from_numpy(y.astype(np.int64)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(args.seed)

    def batches():
        while True:
            perm = torch.randperm(len(x), generator=gen).to(dev)
            for i in range(0, len(x) - args.batch + 1, args.batch):
                yield perm[i:i + args.batch]

    def step(b):
        loss = F.cross_entropy(model(x[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()

    it = batches()
    for _ in range(args.warmup):
        step(next(it))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step(next(it))
    sync()
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(images_per_second=args.steps * args.batch / seconds, steps=args.steps,
                          batch=args.batch, seconds=seconds, device=args.device, torch=torch.__version__)))


if __name__ == "__main__":
    main()
