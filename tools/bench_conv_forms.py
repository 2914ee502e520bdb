#!/usr/bin/python3
"""The two formulation choices of the Conv gradient rule (src/OnnxUnlearn/Autodiff/Rules/ConvGradients.cs),
as pairs of ONNX models for tools/bench_conv.cs to time on stock ONNX Runtime (a benchmark, not a test):

  dx       the input gradient of a stride-1 conv: ConvTranspose(dY, W) against Conv(dY, W') with W'
           the weight flipped and its channel axes swapped per group (MinChannelsForConvForm)
  forward  a conv's output: Conv(X, W) against a MatMul of W over the patches, given as input, that
           the weight gradient extracts anyway (MaxPositionsForPatchForward)

Weights are graph inputs, as in a training graph. Prints {pair name: [first model, second model]}.

    tools/bench_conv.sh            # runs it and prints the second-over-first ratios
"""
import argparse
import json
import os

import onnx
from onnx import TensorProto as T
from onnx import helper as h

# dx: (name, batch, channels in, channels out, size, group, kernel)
DX = [("3x3 1->16, 28^2", 256, 1, 16, 28, 1, 3), ("3x3 3->32, 32^2", 256, 3, 32, 32, 1, 3),
      ("3x3 8->8, 28^2", 256, 8, 8, 28, 1, 3), ("3x3 16->16, 28^2", 256, 16, 16, 28, 1, 3),
      ("3x3 32->32, 14^2", 256, 32, 32, 14, 1, 3), ("3x3 32->64, 7^2", 256, 32, 64, 7, 1, 3),
      ("3x3 64->64, 7^2", 256, 64, 64, 7, 1, 3), ("3x3 64->64, 56^2 b32", 32, 64, 64, 56, 1, 3),
      ("3x3 256->256, 14^2 b32", 32, 256, 256, 14, 1, 3), ("3x3 512->512, 7^2 b32", 32, 512, 512, 7, 1, 3),
      ("1x1 64->128, 14^2", 256, 64, 128, 14, 1, 1), ("1x1 32->32, 28^2", 256, 32, 32, 28, 1, 1),
      ("3x3 64, group 4, 14^2", 256, 64, 64, 14, 4, 3), ("3x3 depthwise 64, 14^2", 256, 64, 64, 14, 64, 3),
      ("3x3 depthwise 32 x2, 14^2", 256, 32, 64, 14, 32, 3), ("5x5 depthwise 64, 14^2", 256, 64, 64, 14, 64, 5)]
# forward: (name, batch, channels in, channels out, input size, stride), 3x3, pad 1
FORWARD = [("16->16, 28^2", 256, 16, 16, 28, 1), ("32->32, 20^2", 256, 32, 32, 20, 1),
           ("32->32, 16^2", 256, 32, 32, 16, 1), ("32->32, 14^2", 256, 32, 32, 14, 1),
           ("16->32, 28^2 stride 2", 256, 16, 32, 28, 2), ("64->64, 7^2", 256, 64, 64, 7, 1),
           ("128->128, 28^2 b32", 32, 128, 128, 28, 1), ("512->512, 7^2 b32", 32, 512, 512, 7, 1)]


def save(path, nodes, inputs, initializers=()):
    graph = h.make_graph(nodes, "bench", [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in inputs],
                         [h.make_tensor_value_info("y", T.FLOAT, None)], initializer=list(initializers))
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)


def ints(name, values):
    return h.make_tensor(name, T.INT64, [len(values)], values)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="folder for the ONNX models (written)")
    args = ap.parse_args()
    os.makedirs(args.models, exist_ok=True)
    pairs = {}
    for i, (name, n, cin, cout, size, group, k) in enumerate(DX):
        pad, mg, cg = k // 2, cout // group, cin // group
        inputs = [("dy", [n, cout, size, size]), ("w", [cout, cg, k, k])]
        first, second = f"dx{i:02d}a.onnx", f"dx{i:02d}b.onnx"
        save(os.path.join(args.models, first),
             [h.make_node("ConvTranspose", ["dy", "w"], ["y"], pads=[pad] * 4, group=group)], inputs)
        flip = [h.make_node("Reshape", ["w", "grouped"], ["w5"]), h.make_node("Transpose", ["w5"], ["wt"], perm=[0, 2, 1, 3, 4]),
                h.make_node("Reshape", ["wt", "swapped"], ["w4"]),
                h.make_node("Slice", ["w4", "last", "first", "axes", "back"], ["flipped"]),
                h.make_node("Conv", ["dy", "flipped"], ["y"], pads=[k - 1 - pad] * 4, group=group)]
        save(os.path.join(args.models, second), flip, inputs,
             [ints("grouped", [group, mg, cg, k, k]), ints("swapped", [cin, mg, k, k]), ints("last", [-1, -1]),
              ints("first", [-2 ** 63, -2 ** 63]), ints("axes", [2, 3]), ints("back", [-1, -1])])
        pairs[f"dx {name}: ConvTranspose, Conv"] = [first, second]
    for i, (name, n, cin, cout, size, stride) in enumerate(FORWARD):
        out = (size - 1) // stride + 1
        first, second = f"fw{i:02d}a.onnx", f"fw{i:02d}b.onnx"
        save(os.path.join(args.models, first), [h.make_node("Conv", ["x", "w"], ["y"], pads=[1] * 4, strides=[stride] * 2)],
             [("x", [n, cin, size, size]), ("w", [cout, cin, 3, 3])])
        save(os.path.join(args.models, second), [h.make_node("MatMul", ["w", "p"], ["y"])],
             [("p", [n, 1, 9 * cin, out * out]), ("w", [1, cout, 9 * cin])])
        pairs[f"forward {name}: Conv, MatMul"] = [first, second]
    print(json.dumps(pairs))


if __name__ == "__main__":
    main()
