#!/usr/bin/python3
"""The convolution floor of a training step on stock ONNX Runtime (a benchmark, not a test).

For every Conv of models/fmnist_cnn_bn.onnx it writes one ONNX model per standard-op form of each
kernel that a training step must run, weights as graph inputs as in a training graph:

  forward  Conv(X, W); MatMul of W over the patches (patches given: the weight gradient makes them)
  dX       ConvTranspose(dY, W); Conv of dY with the flipped weight (stride 1 only); not for the stem,
           whose input is the data
  dW       patches P by a one-hot Conv (none for a 1x1 stride-1 conv), MatMul(P, dYᵀ) per image,
           ReduceSum over the batch; the Conv form (batch as channels, dY as the filters); the
           patches by Pad + Slice + Concat instead of the one-hot Conv

tools/bench_conv.cs times them (best of 15). `report` keeps the fastest form of each kernel and sums
them: no training graph of these forms can run its convolutions faster than that sum, even with
BatchNorm, ReLU, pooling, the loss and the optimizer free. tools/bench_floor.sh compares it with
PyTorch's whole step (tools/bench_torch_train.py) in the same run.

    tools/bench_floor.sh           # BENCH_THREADS (2), BENCH_BATCH (256)
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

# The sample CNN's convs: (name, channels in, channels out, input size, kernel, stride, pad).
CONVS = [("stem", 1, 16, 28, 3, 1, 1), ("block1.conv1", 16, 16, 28, 3, 1, 1), ("block1.conv2", 16, 16, 28, 3, 1, 1),
         ("block2.conv1", 16, 32, 28, 3, 2, 1), ("block2.conv2", 32, 32, 14, 3, 1, 1), ("block2.down", 16, 32, 28, 1, 2, 0),
         ("block3.conv1", 32, 64, 7, 3, 1, 1), ("block3.conv2", 64, 64, 7, 3, 1, 1), ("block3.down", 32, 64, 7, 1, 1, 0)]


def save(path, nodes, inputs, initializers=()):
    graph = h.make_graph(nodes, "floor", [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in inputs],
                         [h.make_tensor_value_info("y", T.FLOAT, None)], initializer=list(initializers))
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 13)]), path)


def ints(name, values):
    return nh.from_array(np.array(values, dtype=np.int64), name)


def one_hot(cin, k):
    kernel = np.zeros((cin * k * k, 1, k, k), np.float32)
    for c in range(cin):
        for j in range(k * k):
            kernel[c * k * k + j, 0, j // k, j % k] = 1
    return kernel


def forms(n, cin, cout, size, k, s, p):
    """kernel -> {form: (nodes, inputs, initializers)} for one conv."""
    out = (size + 2 * p - k) // s + 1
    positions, taps = out * out, cin * k * k
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)
    x, w, dy = ("x", [n, cin, size, size]), ("w", [cout, cin, k, k]), ("dy", [n, cout, out, out])
    result = {"forward": {}, "dX": {}, "dW": {}}
    result["forward"]["Conv"] = ([h.make_node("Conv", ["x", "w"], ["y"], **attrs)], [x, w], [])
    result["forward"]["MatMul over patches"] = ([h.make_node("MatMul", ["w2", "p"], ["y"])],
                                                [("w2", [1, cout, taps]), ("p", [n, 1, taps, positions])], [])
    extra = (size + 2 * p - k) % s
    result["dX"]["ConvTranspose"] = ([h.make_node("ConvTranspose", ["dy", "w"], ["y"], output_padding=[extra] * 2, **attrs)], [dy, w], [])
    if s == 1:
        flip = [h.make_node("Transpose", ["w"], ["wt"], perm=[1, 0, 2, 3]),
                h.make_node("Slice", ["wt", "last", "first", "axes", "back"], ["flipped"]),
                h.make_node("Conv", ["dy", "flipped"], ["y"], kernel_shape=[k, k], pads=[k - 1 - p] * 4)]
        result["dX"]["Conv of the flipped weight"] = (flip, [dy, w], [ints("last", [-1, -1]), ints("first", [-2 ** 63, -2 ** 63]),
                                                                       ints("axes", [2, 3]), ints("back", [-1, -1])])
    # dW from patches: P [N, 1, taps, positions] · dYᵀ [N, 1, positions, cout], summed over N.
    tail = [h.make_node("Reshape", ["dy", "dyshape"], ["dy4"]), h.make_node("Transpose", ["dy4"], ["dyt"], perm=[0, 1, 3, 2]),
            h.make_node("MatMul", ["p", "dyt"], ["prod"]), h.make_node("ReduceSum", ["prod", "zero"], ["sum"], keepdims=0),
            h.make_node("Transpose", ["sum"], ["y"], perm=[0, 2, 1])]
    tail_init = [ints("pshape", [n, 1, taps, positions]), ints("dyshape", [n, 1, cout, positions]), ints("zero", [0])]
    if k == 1 and s == 1:
        result["dW"]["MatMul on the input"] = ([h.make_node("Reshape", ["x", "pshape"], ["p"])] + tail, [x, dy], tail_init)
    else:
        result["dW"]["one-hot Conv patches + MatMul"] = (
            [h.make_node("Conv", ["x", "e"], ["p4"], group=cin, **attrs), h.make_node("Reshape", ["p4", "pshape"], ["p"])] + tail,
            [x, dy], [nh.from_array(one_hot(cin, k), "e")] + tail_init)
        pad = [h.make_node("Pad", ["x", "pads"], ["xp"])]
        pieces = []
        init = [ints("pads", [0, 0, p, p, 0, 0, p, p]), ints("axes2", [2, 3]), ints("steps", [s, s]),
                ints("piece", [n, cin, 1, positions])] + tail_init
        for i in range(k):
            for j in range(k):
                init += [ints(f"b{i}{j}", [i, j]), ints(f"e{i}{j}", [i + s * (out - 1) + 1, j + s * (out - 1) + 1])]
                pad += [h.make_node("Slice", ["xp", f"b{i}{j}", f"e{i}{j}", "axes2", "steps"], [f"s{i}{j}"]),
                        h.make_node("Reshape", [f"s{i}{j}", "piece"], [f"r{i}{j}"])]
                pieces.append(f"r{i}{j}")
        pad.append(h.make_node("Concat", pieces, ["p"], axis=2))
        result["dW"]["Pad + Slice + Concat patches + MatMul"] = (pad + tail, [x, dy], init)
    # Conv form: Conv(X as [cin, N, H, W], dY as [cout, N, h, w] filters, strides and dilations swapped).
    produced = size + 2 * p - s * (out - 1)
    conv_form = [h.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2, 3]), h.make_node("Transpose", ["dy"], ["dyt"], perm=[1, 0, 2, 3]),
                 h.make_node("Conv", ["xt", "dyt"], ["wt"], pads=[p] * 4, dilations=[s, s]),
                 h.make_node("Transpose", ["wt"], ["y"], perm=[1, 0, 2, 3])]
    init = []
    if produced != k:
        conv_form[-1] = h.make_node("Slice", ["wt", "zeros", "kernel", "axes2"], ["cut"])
        conv_form.append(h.make_node("Transpose", ["cut"], ["y"], perm=[1, 0, 2, 3]))
        init = [ints("zeros", [0, 0]), ints("kernel", [k, k]), ints("axes2", [2, 3])]
    result["dW"]["Conv form"] = (conv_form, [x, dy], init)
    return result


def generate(folder, batch):
    os.makedirs(folder, exist_ok=True)
    plan = []
    for i, (name, cin, cout, size, k, s, p) in enumerate(CONVS):
        for kernel, variants in forms(batch, cin, cout, size, k, s, p).items():
            if name == "stem" and kernel == "dX":
                continue
            for j, (form, (nodes, inputs, initializers)) in enumerate(variants.items()):
                file = f"c{i}_{kernel}_{j}.onnx"
                save(os.path.join(folder, file), nodes, inputs, initializers)
                plan.append(dict(conv=name, kernel=kernel, form=form, file=file))
    return plan


def report(plan, timings, torch_step_ms, batch, threads):
    print(f"Convolution kernels of one fmnist_cnn_bn training step, batch {batch}, {threads} threads, "
          f"ONNX Runtime (best of 15 runs each, ms); * = the fastest form of that kernel")
    print(f"{'conv':14s} {'kernel':8s} {'form':40s} {'ms':>8s}")
    floor = {}
    for row in plan:
        key = (row["conv"], row["kernel"])
        floor[key] = min(floor.get(key, float("inf")), timings[row["file"]])
    for row in plan:
        ms = timings[row["file"]]
        star = "*" if ms == floor[(row["conv"], row["kernel"])] else " "
        print(f"{row['conv']:14s} {row['kernel']:8s} {row['form']:40s} {ms:8.2f} {star}")
    total = sum(floor.values())
    by_kernel = {k: sum(v for (c, kk), v in floor.items() if kk == k) for k in ("forward", "dX", "dW")}
    print()
    print("floor (the fastest forms summed): " + ", ".join(f"{k} {v:.1f}" for k, v in by_kernel.items()) + f", total {total:.1f} ms")
    print(f"PyTorch's whole step (tools/bench_torch_train.py, same batch and threads): {torch_step_ms:.1f} ms")
    print(f"floor / PyTorch step: {total / torch_step_ms:.2f}; the best throughput ratio these forms allow: "
          f"{torch_step_ms / total:.2f}x PyTorch's")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write the models and print the plan as JSON")
    g.add_argument("--models", required=True)
    g.add_argument("--batch", type=int, default=256)
    r = sub.add_parser("report", help="print the table from the plan, the timings and PyTorch's step")
    r.add_argument("--plan", required=True)
    r.add_argument("--timings", required=True)
    r.add_argument("--torch", required=True, help="tools/bench_torch_train.py's JSON")
    r.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.command == "generate":
        print(json.dumps(dict(batch=args.batch, plan=generate(args.models, args.batch))))
    else:
        plan = json.load(open(args.plan))
        torch_ = json.load(open(args.torch))
        report(plan["plan"], json.load(open(args.timings)), 1000 * torch_["seconds"] / torch_["steps"], plan["batch"], args.threads)


if __name__ == "__main__":
    main()
