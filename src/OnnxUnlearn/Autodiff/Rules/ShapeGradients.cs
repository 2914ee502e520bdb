using OnnxUnlearn.Ir;

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
