using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Normalization layers.</summary>
internal static class NormalizationGradients
{
    public static void Register(GradientRegistry r) =>
        r.Add("BatchNormalization", BatchNormalization, (node, _) =>
            node.Outputs.Count > 1 || node.GetInt("training_mode", 0) != 0
                ? "training-mode BatchNormalization in the source model (export the model in eval mode)"
                : null);

    // Y = γ·x̂ + β, x̂ = (X − μ)·invstd, invstd = 1/√(σ² + ε); per channel (axis 1),
    // sums Σ over every other axis, M elements per channel.
    //   dγ = Σ(dY·x̂), dβ = ΣdY
    //   frozen statistics:  dX = γ·invstd·dY
    //   batch statistics (μ, σ² computed from X):  dX = γ·invstd/M · (M·dY − ΣdY − x̂·Σ(dY·x̂))
    private static void BatchNormalization(GradientContext c)
    {
        var x = c.I(0);
        var dims = c.ShapeOf(x);
        var channels = dims[1];
        var perChannel = c.B.Ints([channels, .. Enumerable.Repeat(1L, dims.Length - 2)]);
        var axes = new long[] { 0 }.Concat(Enumerable.Range(2, dims.Length - 2).Select(a => (long)a)).ToArray();
        var epsilon = c.Node.GetFloat("epsilon", 1e-5f);
        var dY = c.GO(0)!;
        Value Channel(Value v) => c.B.Reshape(v, perChannel);

        var invStd = c.B.Op("Reciprocal", c.B.Op("Sqrt", c.B.Add(c.I(4), c.B.Scalar(epsilon))));
        var needXHat = c.Needs(1) || c.Options.BatchStatisticsNodes.Contains(c.Node);
        var xHat = needXHat ? c.B.Mul(c.B.Sub(x, Channel(c.I(3))), Channel(invStd)) : null;
        var sumDyXHat = xHat is null ? null : c.B.ReduceSum(c.B.Mul(dY, xHat), axes, keepDims: true);
        var sumDy = c.Needs(2) || c.Options.BatchStatisticsNodes.Contains(c.Node) ? c.B.ReduceSum(dY, axes, keepDims: true) : null;

        if (c.Needs(0))
        {
            var scale = Channel(c.B.Mul(c.I(1), invStd));
            if (c.Options.BatchStatisticsNodes.Contains(c.Node))
            {
                var invCount = c.B.Div(c.B.Scalar(channels), c.B.Cast(c.B.Op("Size", x), Onnx.TensorProto.Types.DataType.Float));
                var centered = c.B.Sub(dY, c.B.Mul(c.B.Add(sumDy!, c.B.Mul(xHat!, sumDyXHat!)), invCount));
                c.SetGI(0, c.B.Mul(centered, scale));
            }
            else
            {
                c.SetGI(0, c.B.Mul(dY, scale));
            }
        }
        if (c.Needs(1)) c.SetGI(1, c.B.Reshape(sumDyXHat!, c.B.Ints(channels)));
        if (c.Needs(2)) c.SetGI(2, c.B.Reshape(sumDy!, c.B.Ints(channels)));
    }
}
