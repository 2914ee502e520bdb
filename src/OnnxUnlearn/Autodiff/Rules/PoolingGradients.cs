using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Max, average and global pooling.</summary>
internal static class PoolingGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("MaxPool", MaxPool, (node, _) =>
            node.GetInt("storage_order", 0) != 0 ? "storage_order=1 (column-major indices) is not supported" : null);
        r.Add("AveragePool", AveragePool);
        r.Add("GlobalAveragePool", GlobalAveragePool);
        r.Add("GlobalMaxPool", GlobalMaxPool);
    }

    // dX = ScatterAdd(zeros(|X|), Indices, dY), with the flat argmax Indices (N and C included)
    // that MaxPool gives as its second output; the rule adds that output if the model omits it.
    // Before opset 16 ScatterElements cannot add, so overlapping windows are scattered in phases
    // (windows P = ceil(extent / stride) apart never overlap) and the phases are summed. Before
    // opset 9 there is no scatter at all (and before opset 8 no Indices): MaxPoolThroughWindows.
    private static void MaxPool(GradientContext c)
    {
        if (c.Opset < 9)
        {
            MaxPoolThroughWindows(c);
            return;
        }
        var node = c.Node;
        var indices = node.Outputs.Count > 1 ? node.Outputs[1] : c.B.Graph.AddNodeOutput(node, node.Name + "_indices");
        var x = c.I(0);
        var dY = c.GO(0)!;
        var zeros = c.B.Reshape(c.B.ZerosLike(x), c.B.Ints(-1));
        var flat = c.B.Ints(-1);
        if (c.Opset >= 16)
        {
            var scattered = c.B.Op("ScatterElements", [zeros, c.B.Reshape(indices, flat), c.B.Reshape(dY, flat)],
                Attr.Int("axis", 0), Attr.String("reduction", "add"));
            c.SetGI(0, c.B.Reshape(scattered, c.B.Shape(x)));
            return;
        }
        var kernel = node.GetInts("kernel_shape")!;
        var g = ConvGeometry.Of(node, kernel, c.ShapeOf(x)[2..]);
        var yDims = c.ShapeOf(c.O(0));
        var phases = Enumerable.Range(0, g.Rank).Select(a => (g.Extent(a) + g.Strides[a] - 1) / g.Strides[a]).ToArray();
        var parts = new List<Value>();
        foreach (var phase in Phases(phases))
        {
            var axes = Enumerable.Range(2, g.Rank).Select(a => (long)a).ToArray();
            var (idx, grad) = phases.All(p => p == 1)
                ? (indices, dY)
                : (c.B.Slice(indices, phase, Enumerable.Repeat(long.MaxValue, g.Rank).ToArray(), axes, phases, yDims),
                   c.B.Slice(dY, phase, Enumerable.Repeat(long.MaxValue, g.Rank).ToArray(), axes, phases, yDims));
            parts.Add(c.B.ScatterElements(zeros, c.B.Reshape(idx, flat), c.B.Reshape(grad, flat), 0));
        }
        var sum = parts.Count == 1 ? parts[0] : c.B.Op("Sum", [.. parts]);
        c.SetGI(0, c.B.Reshape(sum, c.B.Shape(x)));
    }

    // Through the windows' values, for opsets without a scatter: with P[n, c, k, o] the k-th element
    // of window o (the conv patches of X padded with −FLT_MAX, as MaxPool never picks a pad) and
    // Y[n, c, o] its maximum, MaxPool picks the first k with P = Y (ONNX Runtime's Indices and
    // PyTorch keep the first maximum in scan order):
    //   T_k = [P_k ≥ Y],  F_k = T_k · [Σ_{j<k} T_j = 0],
    //   dX = crop(ConvTranspose(F·dY, E, group = C, strides, dilations))
    // with E the patches' one-hot kernel, so the transposed conv puts each window's share back
    // where the patch was read. The prefix sum is a MatMul with a constant strictly triangular matrix.
    private static void MaxPoolThroughWindows(GradientContext c)
    {
        var b = c.B;
        var node = c.Node;
        var x = c.I(0);
        var xDims = c.ShapeOf(x);
        var yDims = c.ShapeOf(c.O(0));
        var g = ConvGeometry.Of(node, node.GetInts("kernel_shape")!, xDims[2..]);
        var channels = xDims[1];
        var windowSize = g.Kernel.Aggregate(1L, (p, k) => p * k);
        var positions = yDims[2..].Aggregate(1L, (p, d) => p * d);

        var padded = g.Pads.Any(p => p != 0) ? b.Pad(x, [0, 0, .. g.PadsBegin, 0, 0, .. g.PadsEnd], -float.MaxValue) : x;
        long[] paddedDims = [.. xDims[..2], .. Enumerable.Range(0, g.Rank).Select(a => xDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a])];
        var unpadded = g with { PadsBegin = new long[g.Rank], PadsEnd = new long[g.Rank] };
        var windows = b.Reshape(ConvGradients.Patches(c, padded, paddedDims, yDims, unpadded, 1), b.Ints(-1, channels, windowSize, positions));
        var maxima = b.Reshape(c.O(0), b.Ints(-1, channels, 1, positions));
        var ties = b.Transpose(b.Cast(b.Op("Not", b.Op("Less", windows, maxima)), Onnx.TensorProto.Types.DataType.Float), [0, 1, 3, 2]);
        var earlier = new float[windowSize * windowSize];
        for (var j = 0; j < windowSize; j++)
            for (var k = j + 1; k < windowSize; k++)
                earlier[j * windowSize + k] = 1;
        var tiesBefore = b.Op("MatMul", ties, b.Floats([windowSize, windowSize], earlier));
        var first = b.Mul(ties, b.Cast(b.Op("Less", tiesBefore, b.Scalar(0.5f)), Onnx.TensorProto.Types.DataType.Float));
        var shares = b.Mul(first, b.Reshape(c.GO(0)!, b.Ints(-1, channels, positions, 1)));
        shares = b.Reshape(b.Transpose(shares, [0, 1, 3, 2]), b.Ints([-1, channels * windowSize, .. yDims[2..]]));
        var spread = b.Op("ConvTranspose", [shares, ConvGradients.PatchKernel(b, channels, g.Kernel)],
            Attr.Ints("strides", g.Strides), Attr.Ints("dilations", g.Dilations), Attr.Int("group", channels));
        c.SetGI(0, CropToInput(c, spread, g, xDims, yDims));
    }

    private static IEnumerable<long[]> Phases(long[] counts)
    {
        var current = new long[counts.Length];
        while (true)
        {
            yield return (long[])current.Clone();
            var a = counts.Length - 1;
            while (a >= 0 && ++current[a] == counts[a]) current[a--] = 0;
            if (a < 0) yield break;
        }
    }

    // dX = crop(ConvTranspose(dY / count, 1-kernel, group=C, strides, dilations)): every output
    // spreads its gradient, divided by its window's element count, over the window. The transposed
    // conv runs without pads (covering the padded input from −pad_begin) and is then cropped or
    // zero-extended to the input, which also covers ceil_mode's partial windows.
    private static void AveragePool(GradientContext c)
    {
        var node = c.Node;
        var x = c.I(0);
        var xDims = c.ShapeOf(x);
        var yDims = c.ShapeOf(c.O(0));
        var kernel = node.GetInts("kernel_shape")!;
        var g = ConvGeometry.Of(node, kernel, xDims[2..]);
        var channels = xDims[1];
        var includePad = node.GetInt("count_include_pad", 0) != 0;

        var counts = CountMap(g, xDims[2..], yDims[2..], includePad);
        var kernelSize = kernel.Aggregate(1L, (a, b) => a * b);
        var dY = counts.All(n => n == kernelSize)
            ? c.B.Mul(c.GO(0)!, c.B.Scalar(1f / kernelSize))
            : c.B.Div(c.GO(0)!, c.B.Floats([.. yDims[2..]], counts.Select(n => (float)n).ToArray()));
        var ones = c.B.Floats([channels, 1, .. kernel], Enumerable.Repeat(1f, checked((int)(channels * kernelSize))).ToArray());
        var spread = c.B.Op("ConvTranspose", [dY, ones],
            Attr.Ints("strides", g.Strides), Attr.Ints("dilations", g.Dilations), Attr.Int("group", channels));
        c.SetGI(0, CropToInput(c, spread, g, xDims, yDims));
    }

    /// <summary>The output of a pad-less ConvTranspose over the windows, which covers the padded input
    /// from −pad_begin, cropped or zero-extended to the input.</summary>
    private static Value CropToInput(GradientContext c, Value spread, ConvGeometry g, long[] xDims, long[] yDims)
    {
        var axes = Enumerable.Range(2, g.Rank).Select(a => (long)a).ToArray();
        var produced = Enumerable.Range(0, g.Rank).Select(a => g.Strides[a] * (yDims[a + 2] - 1) + g.Extent(a)).ToArray();
        var shortfall = Enumerable.Range(0, g.Rank).Select(a => Math.Max(0, g.PadsBegin[a] + xDims[a + 2] - produced[a])).ToArray();
        if (shortfall.Any(s => s > 0))
            spread = c.B.Pad(spread, [0, 0, .. new long[g.Rank], 0, 0, .. shortfall]);
        return c.B.Slice(spread, g.PadsBegin, Enumerable.Range(0, g.Rank).Select(a => g.PadsBegin[a] + xDims[a + 2]).ToArray(), axes);
    }

    /// <summary>Elements each output window averages over, in output order.</summary>
    private static long[] CountMap(ConvGeometry g, long[] input, long[] output, bool includePad)
    {
        var perAxis = Enumerable.Range(0, g.Rank).Select(a =>
        {
            var (low, high) = includePad ? (-g.PadsBegin[a], input[a] + g.PadsEnd[a]) : (0, input[a]);
            return Enumerable.Range(0, (int)output[a]).Select(o =>
            {
                long n = 0;
                for (var k = 0; k < g.Kernel[a]; k++)
                {
                    var position = o * g.Strides[a] - g.PadsBegin[a] + k * g.Dilations[a];
                    if (position >= low && position < high) n++;
                }
                return n;
            }).ToArray();
        }).ToArray();
        var total = output.Aggregate(1L, (a, b) => a * b);
        var counts = new long[total];
        for (var i = 0; i < total; i++)
        {
            long n = 1;
            var rest = i;
            for (var a = g.Rank - 1; a >= 0; a--)
            {
                n *= perAxis[a][rest % output[a]];
                rest /= (int)output[a];
            }
            counts[i] = n;
        }
        return counts;
    }

    // dX = Expand(dY / (H·W), Shape(X))
    private static void GlobalAveragePool(GradientContext c)
    {
        var dims = c.ShapeOf(c.I(0));
        var area = dims[2..].Aggregate(1L, (a, b) => a * b);
        c.SetGI(0, c.B.ExpandLike(c.B.Mul(c.GO(0)!, c.B.Scalar(1f / area)), c.I(0)));
    }

    // dX = dY where X equals its channel's maximum
    private static void GlobalMaxPool(GradientContext c) =>
        c.SetGI(0, c.B.Where(c.B.FloatEqual(c.I(0), c.O(0)), c.GO(0)!, c.B.Scalar(0)));
}
