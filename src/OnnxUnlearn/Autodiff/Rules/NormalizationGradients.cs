using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Normalization layers.</summary>
internal static class NormalizationGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("BatchNormalization", BatchNormalization, (node, _) =>
            node.Outputs.Count > 1 || node.GetInt("training_mode", 0) != 0
                ? "training-mode BatchNormalization in the source model (export the model in eval mode)"
                : node.GetInt("spatial", 1) == 0
                    ? "spatial=0 (statistics per activation, opsets 7–8) is not supported (only per-channel statistics)"
                    : null);
        r.Add("InstanceNormalization", InstanceNormalization);
        r.Add("LayerNormalization", LayerNormalization);
        r.Add("MeanVarianceNormalization", MeanVarianceNormalization);
        r.Add("LRN", LocalResponseNormalization);
    }

    /// <summary>
    /// The gradient through x̂ = (X − μ)·r, r = 1/√(σ² + ε), with μ and σ² the means over
    /// <paramref name="axes"/> and g = dL/dx̂:  dX = r·(g − mean(g) − x̂·mean(g·x̂)).
    /// </summary>
    private static Value ThroughStandardization(GraphBuilder b, Value g, Value xHat, Value invStd, long[] axes) =>
        b.Mul(invStd, b.Sub(b.Sub(g, b.Reduce("ReduceMean", g, axes, keepDims: true)),
            b.Mul(xHat, b.Reduce("ReduceMean", b.Mul(g, xHat), axes, keepDims: true))));

    // Y = γ·x̂ + β per channel, x̂ standardized over the spatial axes of each (n, c):
    //   dX = r·(g − mean(g) − x̂·mean(g·x̂)) with g = γ·dY;  dγ = Σ_{n,spatial} dY·x̂;  dβ = Σ_{n,spatial} dY
    private static void InstanceNormalization(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var rank = c.RankOf(x);
        var channels = c.ShapeOf(x)[1];
        var spatial = Enumerable.Range(2, rank - 2).Select(a => (long)a).ToArray();
        var perChannel = b.Ints([channels, .. Enumerable.Repeat(1L, rank - 2)]);
        var epsilon = c.Node.GetFloat("epsilon", 1e-5f);
        var dY = c.GO(0)!;

        var centered = b.Sub(x, b.Reduce("ReduceMean", x, spatial, keepDims: true));
        var variance = b.Reduce("ReduceMean", b.Mul(centered, centered), spatial, keepDims: true);
        var invStd = b.Op("Reciprocal", b.Op("Sqrt", b.Add(variance, b.Scalar(epsilon))));
        var xHat = b.Mul(centered, invStd);
        if (c.Needs(0))
            c.SetGI(0, ThroughStandardization(b, b.Mul(dY, b.Reshape(c.I(1), perChannel)), xHat, invStd, spatial));
        long[] reduced = [0, .. spatial];
        if (c.Needs(1)) c.SetGI(1, b.ReduceSum(b.Mul(dY, xHat), reduced, keepDims: false));
        if (c.Needs(2)) c.SetGI(2, b.ReduceSum(dY, reduced, keepDims: false));
    }

    // Y = (X − μ)/σ with μ and σ² = mean((X − μ)²) over `axes` (default [0, 2, 3]; no ε, as in the
    // ONNX function body's variance and ONNX Runtime's kernel):
    //   dX = (dY − mean(dY) − Y·mean(dY·Y)) / σ
    private static void MeanVarianceNormalization(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var rank = c.RankOf(x);
        var axes = (c.Node.GetInts("axes") ?? [0, 2, 3]).Select(a => (long)RuleHelpers.Axis(a, rank)).Order().ToArray();
        var centered = b.Sub(x, b.Reduce("ReduceMean", x, axes, keepDims: true));
        var invStd = b.Op("Reciprocal", b.Op("Sqrt", b.Reduce("ReduceMean", b.Mul(centered, centered), axes, keepDims: true)));
        c.SetGI(0, ThroughStandardization(b, c.GO(0)!, c.O(0), invStd, axes));
    }

    // Y = X·D^(−β), D = bias + α/size·S, S_c = Σ X_i² over the channels i = c − lo … c + hi
    // (lo = ⌊(size − 1)/2⌋, hi = ⌈(size − 1)/2⌉, clipped to the channels), so with i in the window
    // of c exactly when c = i − hi … i + lo:
    //   dX_i = dY_i·D_i^(−β) − (2αβ/size)·X_i·Σ_{c = i − hi … i + lo} dY_c·Y_c / D_c
    private static void LocalResponseNormalization(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var rank = c.RankOf(x);
        var size = c.GetInt("size", 1);
        var alpha = c.Node.GetFloat("alpha", 1e-4f);
        var beta = c.Node.GetFloat("beta", 0.75f);
        var bias = c.Node.GetFloat("bias", 1f);
        var (lo, hi) = ((size - 1) / 2, size / 2);
        var dY = c.GO(0)!;
        var d = b.Add(b.Mul(ChannelWindowSum(b, b.Mul(x, x), rank, size, lo, hi), b.Scalar(alpha / size)), b.Scalar(bias));
        var back = ChannelWindowSum(b, b.Div(b.Mul(dY, c.O(0)), d), rank, size, hi, lo);
        c.SetGI(0, b.Sub(b.Mul(dY, b.Op("Pow", d, b.Scalar(-beta))), b.Mul(x, b.Mul(back, b.Scalar(2 * alpha * beta / size)))));
    }

    /// <summary>Σ of v [N, C, spatial...] over the channels c − <paramref name="before"/> … c +
    /// <paramref name="after"/> that exist: a Conv of v viewed as [N, 1, C, spatial...] with a kernel of
    /// <paramref name="size"/> ones along C, zero-padded.</summary>
    private static Value ChannelWindowSum(GraphBuilder b, Value v, int rank, long size, long before, long after)
    {
        var ones = b.Floats([1, 1, size, .. Enumerable.Repeat(1L, rank - 2)], Enumerable.Repeat(1f, (int)size).ToArray());
        long[] pads = [before, .. new long[rank - 2], after, .. new long[rank - 2]];
        return b.Squeeze(b.Op("Conv", [b.Unsqueeze(v, 1), ones], Attr.Ints("pads", pads)), 1);
    }

    // Y = γ·x̂ + β, x̂ standardized over the axes from `axis` on (opset 17); γ, β broadcast to them.
    //   dX = r·(g − mean(g) − x̂·mean(g·x̂)) with g = γ·dY
    //        + dMean/M − dInvStdDev·r²·x̂/M   (when the optional Mean/InvStdDev outputs are used)
    //   dγ = Σ dY·x̂ and dβ = Σ dY over the axes γ and β are broadcast along
    private static void LayerNormalization(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var dims = c.ShapeOf(x);
        var rank = dims.Length;
        var axis = (int)c.GetInt("axis", -1);
        if (axis < 0) axis += rank;
        var axes = Enumerable.Range(axis, rank - axis).Select(a => (long)a).ToArray();
        var epsilon = c.Node.GetFloat("epsilon", 1e-5f);
        var dY = c.GOOrZeros(0);

        bool Has(int output) => c.Node.Outputs.Count > output && c.O(output).Name.Length > 0;
        var mean = Has(1) ? c.O(1) : b.Reduce("ReduceMean", x, axes, keepDims: true);
        var centered = b.Sub(x, mean);
        var invStd = Has(2)
            ? c.O(2)
            : b.Op("Reciprocal", b.Op("Sqrt", b.Add(b.Reduce("ReduceMean", b.Mul(centered, centered), axes, keepDims: true), b.Scalar(epsilon))));
        var xHat = b.Mul(centered, invStd);

        if (c.Needs(0))
        {
            var dX = ThroughStandardization(b, b.Mul(dY, c.I(1)), xHat, invStd, axes);
            if (c.GO(1) is not null || c.GO(2) is not null)
            {
                var count = dims[axis..].Aggregate(1L, (p, d) => p * d);
                if (count <= 0)
                    throw new UserInputException($"{c.Node.Describe()}: a gradient into Mean or InvStdDev needs the normalized dims fixed");
                var extra = c.GO(1) is { } dMean ? b.Mul(dMean, b.Scalar(1f / count)) : null;
                if (c.GO(2) is { } dInvStd)
                {
                    var viaInvStd = b.Mul(b.Mul(dInvStd, b.Mul(invStd, invStd)), b.Mul(xHat, b.Scalar(-1f / count)));
                    extra = extra is null ? viaInvStd : b.Add(extra, viaInvStd);
                }
                dX = b.Add(dX, extra!);
            }
            c.SetGI(0, dX);
        }
        if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(b.Mul(dY, xHat), c.I(1), c.O(0)));
        if (c.Needs(2)) c.SetGI(2, c.ReduceToShapeOf(dY, c.I(2), c.O(0)));
    }

    // Y = γ·x̂ + β, x̂ = (X − μ)·invstd, invstd = 1/√(σ² + ε); per channel (axis 1),
    // sums Σ over every other axis, M elements per channel; with Xc = X − μ:
    //   dγ = Σ(dY·x̂) = invstd·Σ(dY·Xc), dβ = ΣdY
    //   frozen statistics:  dX = γ·invstd·dY
    //   batch statistics (μ, σ² computed from X):  dX = γ·invstd/M · (M·dY − ΣdY − x̂·Σ(dY·x̂))
    //     = a·(dY − ΣdY/M) − (a·invstd²·Σ(dY·Xc)/M)·Xc,  a = γ·invstd
    //   (per-channel coefficients times full-size tensors: six full-size operations in all,
    //   Xc included, against eight through x̂)
    private static void BatchNormalization(GradientContext c)
    {
        var x = c.I(0);
        var dims = c.ShapeOf(x);
        var channels = dims[1];
        var perChannel = c.B.Ints([channels, .. Enumerable.Repeat(1L, dims.Length - 2)]);
        var axes = new long[] { 0 }.Concat(Enumerable.Range(2, dims.Length - 2).Select(a => (long)a)).ToArray();
        var epsilon = c.Node.GetFloat("epsilon", 1e-5f);
        var dY = c.GO(0)!;
        var batchStatistics = c.Options.BatchStatisticsNodes.TryGetValue(c.Node, out var forwardCentered);
        Value Channel(Value v) => c.B.Reshape(v, perChannel);

        var invStd = Channel(c.B.Op("Reciprocal", c.B.Op("Sqrt", c.B.Add(c.I(4), c.B.Scalar(epsilon)))));
        var centered = forwardCentered ?? (c.Needs(1) ? c.B.Sub(x, Channel(c.I(3))) : null);
        var sumDyCentered = centered is null ? null : c.B.ReduceSum(c.B.Mul(dY, centered), axes, keepDims: true);
        var sumDy = c.Needs(2) || batchStatistics ? c.B.ReduceSum(dY, axes, keepDims: true) : null;

        if (c.Needs(0))
        {
            var scale = c.B.Mul(Channel(c.I(1)), invStd);
            if (batchStatistics)
            {
                var invCount = c.B.Div(c.B.Scalar(channels), c.B.Cast(c.B.Op("Size", x), Onnx.TensorProto.Types.DataType.Float));
                var shifted = c.B.Mul(c.B.Sub(dY, c.B.Mul(sumDy!, invCount)), scale);
                var slope = c.B.Mul(c.B.Mul(scale, c.B.Mul(invStd, invStd)), c.B.Mul(sumDyCentered!, invCount));
                c.SetGI(0, c.B.Sub(shifted, c.B.Mul(centered!, slope)));
            }
            else
            {
                c.SetGI(0, c.B.Mul(dY, scale));
            }
        }
        if (c.Needs(1)) c.SetGI(1, c.B.Reshape(c.B.Mul(sumDyCentered!, invStd), c.B.Ints(channels)));
        if (c.Needs(2)) c.SetGI(2, c.B.Reshape(sumDy!, c.B.Ints(channels)));
    }
}
