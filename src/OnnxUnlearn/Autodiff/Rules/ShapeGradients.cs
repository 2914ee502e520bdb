using OnnxUnlearn.Ir;
using static OnnxUnlearn.Autodiff.Rules.RuleHelpers;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Ops that only move or re-view data.</summary>
internal static class ShapeGradients
{
    public static void Register(GradientRegistry r)
    {
        // dX = Reshape(dY, Shape(X)) for every op that keeps the elements in order
        foreach (var op in new[] { "Reshape", "Flatten", "Squeeze", "Unsqueeze" })
            r.Add(op, c => c.SetGI(0, c.B.Reshape(c.GO(0)!, c.B.Shape(c.I(0)))));
        // dX = dY
        r.Add("Identity", c => c.SetGI(0, c.GO(0)!));
        // dX = Transpose(dY, perm⁻¹); the default perm reverses the axes
        r.Add("Transpose", c =>
        {
            var perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, c.RankOf(c.I(0))).Reverse().Select(a => (long)a).ToArray();
            var inverse = new long[perm.Length];
            for (var i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            c.SetGI(0, c.B.Transpose(c.GO(0)!, inverse));
        });
        // Dropout: identity in inference; with a mask output in training, dX = dY·mask/(1 − ratio)
        r.Add("Dropout", Dropout);
        r.Add("Concat", Concat);
        // Y_0..Y_n = Split(X, axis): dX = Concat(dY_0, ..., dY_n, axis), zeros for an output no
        // gradient reaches (the split sizes, whether attribute, input or num_outputs, are the outputs' sizes)
        r.Add("Split", c =>
        {
            var axis = c.GetInt("axis", 0);
            c.SetGI(0, c.B.Concat(axis, [.. Enumerable.Range(0, c.Node.Outputs.Count).Select(c.GOOrZeros)]));
        });
        // Y = Expand(X, shape): dX = dY summed over the broadcast axes
        r.Add("Expand", c => c.SetGI(0, c.ReduceToShapeOf(c.GO(0)!, c.I(0), c.O(0))));
        r.Add("Tile", Tile, (node, _) =>
            IsConstantOrAbsent(InputAt(node, 1)) ? null : "repeats computed at run time are not supported (they must be a constant)");
        // SpaceToDepth and DepthToSpace (DCR, its only mode before opset 11 and its default after)
        // are each other's inverse permutation
        r.Add("SpaceToDepth", c => c.SetGI(0, c.B.Op("DepthToSpace", [c.GO(0)!], Attr.Int("blocksize", c.GetInt("blocksize", 1)))));
        r.Add("DepthToSpace", DepthToSpace);
        // Y = Trilu(X, k, upper): dX = Trilu(dY, k, upper), the same mask
        r.Add("Trilu", c => c.SetGI(0, c.B.Op("Trilu", [c.GO(0)!, c.HasInput(1) ? c.I(1) : null], [.. c.Node.Attributes])));
    }

    // Y = Concat(X_0, ..., X_n, axis): dX_i = Slice(dY, offset_i, offset_i + size_i, axis), with
    // offsets from the inputs' sizes along the axis (read at run time if one varies with the batch).
    private static void Concat(GradientContext c)
    {
        var b = c.B;
        var rank = c.RankOf(c.O(0));
        var axis = Axis(c.GetInt("axis", 1), rank);
        var sizes = Enumerable.Range(0, c.InputCount).Select(i => c.ShapeOf(c.I(i))[axis]).ToArray();
        if (sizes.All(s => s >= 0))
        {
            long offset = 0;
            for (var i = 0; i < c.InputCount; i++)
            {
                if (c.Needs(i)) c.SetGI(i, b.Slice(c.GO(0)!, [offset], [offset + sizes[i]], [axis]));
                offset += sizes[i];
            }
            return;
        }
        if (c.Opset < 10)
            throw new UserInputException($"{c.Node.Describe()}: concatenation along an axis that varies with the batch needs opset 10 or later for its gradient");
        Value start = b.Ints(0);
        for (var i = 0; i < c.InputCount; i++)
        {
            var end = b.Add(start, b.Slice(b.Shape(c.I(i)), [axis], [axis + 1], [0]));
            if (c.Needs(i)) c.SetGI(i, b.Op("Slice", c.GO(0)!, start, end, b.Ints(axis)));
            start = end;
        }
    }

    // DCR: dX = SpaceToDepth(dY). CRD: Y = X [N, C', b, b, H, W] transposed to [N, C', H, b, W, b],
    // so dX = dY viewed [N, C', H, b, W, b] transposed back by [0, 1, 3, 5, 2, 4].
    private static void DepthToSpace(GradientContext c)
    {
        var blocksize = c.GetInt("blocksize", 1);
        if (c.Node.GetString("mode", "DCR") != "CRD")
        {
            c.SetGI(0, c.B.Op("SpaceToDepth", [c.GO(0)!], Attr.Int("blocksize", blocksize)));
            return;
        }
        var dims = c.ShapeOf(c.I(0));
        var (channels, height, width) = (dims[1] / (blocksize * blocksize), dims[2], dims[3]);
        var viewed = c.B.Reshape(c.GO(0)!, c.B.Ints(-1, channels, height, blocksize, width, blocksize));
        c.SetGI(0, c.B.Reshape(c.B.Transpose(viewed, [0, 1, 3, 5, 2, 4]), c.B.Shape(c.I(0))));
    }

    // Y = Tile(X, r): along each axis Y[q·D + j] = X[j], so dY viewed as [r_0, D_0, r_1, D_1, ...]
    // summed over the r axes is dX.
    private static void Tile(GradientContext c)
    {
        var repeats = ConstantInts(c.I(1));
        var dims = c.ShapeOf(c.I(0));
        if (repeats.All(n => n == 1))
        {
            c.SetGI(0, c.GO(0)!);
            return;
        }
        var view = new List<long>();
        var axes = new List<long>();
        for (var a = 0; a < dims.Length; a++)
        {
            if (repeats[a] != 1)
            {
                axes.Add(view.Count);
                view.Add(repeats[a]);
            }
            view.Add(dims[a]);
        }
        var viewed = c.B.Reshape(c.GO(0)!, ShapeConstant(c, [.. view]));
        c.SetGI(0, c.B.ReduceSum(viewed, [.. axes], keepDims: false));
    }

    private static void Dropout(GradientContext c)
    {
        var training = c.Opset >= 12
            ? c.HasInput(2) && c.I(2).Initializer is { } t && t.ToInt64Array()[0] != 0 || c.HasInput(2) && c.I(2).Initializer is null
            : c.Node.GetInt("is_test", 1) == 0;
        if (!training || c.Node.Outputs.Count < 2)
        {
            c.SetGI(0, c.GO(0)!);
            return;
        }
        var ratio = c.Opset >= 12
            ? c.HasInput(1) ? c.I(1) : c.B.Scalar(0.5f)
            : c.B.Scalar(c.Node.GetFloat("ratio", 0.5f));
        var mask = c.B.Cast(c.O(1), Onnx.TensorProto.Types.DataType.Float);
        c.SetGI(0, c.B.Div(c.B.Mul(c.GO(0)!, mask), c.B.Sub(c.B.Scalar(1), ratio)));
    }
}
