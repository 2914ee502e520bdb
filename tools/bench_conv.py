#!/usr/bin/python3
"""Convolution kernels on this CPU (a benchmark, not a test): why a CNN training step on stock
ONNX Runtime is slower than PyTorch's. For each 3x3 conv layer shape of models/fmnist_cnn_bn.onnx
at batch 256 it writes ONNX models of

  conv        one Conv node whose weight is a graph input (as in a training graph: no constant
              weight, so ONNX Runtime cannot use its NCHWc kernels): MLAS im2col + SGEMM
  matmul      the GEMM alone, [N*H*W, 9C] x [9C, Cout], on patches given as input (MLAS SGEMM)

plus a 2048^3 MatMul (MLAS SGEMM at its best), and times PyTorch's conv2d forward and backward
(oneDNN) and the same GEMMs (torch.matmul). ONNX Runtime is timed by tools/bench_conv.cs.

    tools/bench_conv.sh            # both sides, one table; BENCH_THREADS (2)
"""
import argparse
import json
import os
import time

import onnx
import torch
from onnx import TensorProto as T
from onnx import helper as h

LAYERS = [(16, 28, 16), (32, 14, 32), (64, 7, 64)]  # (channels in, size, channels out), 3x3, pad 1
BATCH = 256


def save(path, nodes, inputs):
    graph = h.make_graph(nodes, "bench", [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in inputs],
                         [h.make_tensor_value_info("y", T.FLOAT, None)])
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)


def cases():
    """name -> (FLOPs, (ONNX op, its attributes), [(input name, shape)] of x and w)."""
    out = {}
    for c, s, co in LAYERS:
        flops = 2 * BATCH * s * s * 9 * c * co
        out[f"conv {c}x{s}x{s}->{co}"] = (flops, ("Conv", dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])),
                                          [("x", [BATCH, c, s, s]), ("w", [co, c, 3, 3])])
        out[f"matmul {BATCH * s * s}x{9 * c}x{co}"] = (flops, ("MatMul", {}), [("x", [BATCH * s * s, 9 * c]), ("w", [9 * c, co])])
    out["matmul 2048x2048x2048"] = (2 * 2048 ** 3, ("MatMul", {}), [("x", [2048, 2048]), ("w", [2048, 2048])])
    return out


def best_ms(fn, repeats=15):
    fn()  # warm-up: oneDNN builds its kernels on the first call
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="folder for the ONNX models (written)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    os.makedirs(args.models, exist_ok=True)
    result = {}
    for i, (name, (flops, (op, attrs), inputs)) in enumerate(cases().items()):
        save(os.path.join(args.models, f"{i:02d}.onnx"), [h.make_node(op, ["x", "w"], ["y"], **attrs)], inputs)
        x, w = (torch.randn(*shape) for _, shape in inputs)
        if op == "Conv":
            x.requires_grad_(True)
            w.requires_grad_(True)
            fwd = best_ms(lambda: torch.nn.functional.conv2d(x, w, padding=1))
            y = torch.nn.functional.conv2d(x, w, padding=1)
            g = torch.randn_like(y)
            bwd = best_ms(lambda: torch.autograd.grad(y, (x, w), g, retain_graph=True))
        else:
            fwd, bwd = best_ms(lambda: x @ w), None
        result[f"{i:02d}.onnx"] = dict(name=name, flops=flops, torch_ms=fwd, torch_backward_ms=bwd)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
