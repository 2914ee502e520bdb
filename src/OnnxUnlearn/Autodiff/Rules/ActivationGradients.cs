namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Pointwise activations. Masks are taken from the output where that is exact
/// (Y > 0 ⇔ X > 0 for Relu), so X need not stay alive.</summary>
internal static class ActivationGradients
{
    public static void Register(GradientRegistry r)
    {
        // dX = dY where Y > 0, else 0
        r.Add("Relu", c =>
        {
            var zero = c.B.Scalar(0);
            c.SetGI(0, c.B.Op("Where", c.B.Op("Greater", c.O(0), zero), c.GO(0)!, zero));
        });
        // dX = dY·Y·(1 − Y)
        r.Add("Sigmoid", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Mul(c.O(0), c.B.Sub(c.B.Scalar(1), c.O(0))))));
        // dX = dY·(1 − Y²)
        r.Add("Tanh", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Sub(c.B.Scalar(1), c.B.Mul(c.O(0), c.O(0))))));
        // dX = dY where X > 0, else α·dY
        r.Add("LeakyRelu", c =>
        {
            var dY = c.GO(0)!;
            var alpha = c.Node.GetFloat("alpha", 0.01f);
            c.SetGI(0, c.B.Op("Where", c.B.Op("Greater", c.I(0), c.B.Scalar(0)), dY, c.B.Mul(dY, c.B.Scalar(alpha))));
        });
        // Clip(X, min, max): dX = dY where min < X < max (min/max are attributes before opset 11)
        r.Add("Clip", c =>
        {
            var dY = c.GO(0)!;
            var zero = c.B.Scalar(0);
            var x = c.I(0);
            var (min, max) = c.Opset >= 11
                ? (c.HasInput(1) ? c.I(1) : null, c.HasInput(2) ? c.I(2) : null)
                : (c.B.Scalar(c.Node.GetFloat("min", float.MinValue)), c.B.Scalar(c.Node.GetFloat("max", float.MaxValue)));
            var grad = dY;
            if (min is not null) grad = c.B.Op("Where", c.B.Op("Greater", x, min), grad, zero);
            if (max is not null) grad = c.B.Op("Where", c.B.Op("Less", x, max), grad, zero);
            c.SetGI(0, grad);
        });
    }
}
