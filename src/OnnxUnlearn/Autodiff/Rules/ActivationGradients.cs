using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Pointwise activations. Masks are taken from the output where that is exact
/// (Y > 0 ⇔ X > 0 for Relu), so X need not stay alive.</summary>
internal static class ActivationGradients
{
    public static void Register(GradientRegistry r)
    {
        // dX = dY · [Y > 0]  (the mask cast to float and multiplied: ONNX Runtime's CPU Where takes
        // about twice as long as Cast + Mul on a full activation)
        r.Add("Relu", c =>
        {
            var mask = c.B.Cast(c.B.Op("Greater", c.O(0), c.B.Scalar(0)), TensorProto.Types.DataType.Float);
            c.SetGI(0, c.B.Mul(c.GO(0)!, mask));
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
            c.SetGI(0, c.B.Where(c.B.Op("Greater", c.I(0), c.B.Scalar(0)), dY, c.B.Mul(dY, c.B.Scalar(alpha))));
        });
        // Clip(X, min, max): dX = dY · [min < X < max] (min/max are attributes before opset 11; the
        // mask cast and multiplied, as for Relu)
        r.Add("Clip", c =>
        {
            var x = c.I(0);
            var (min, max) = c.Opset >= 11
                ? (c.HasInput(1) ? c.I(1) : null, c.HasInput(2) ? c.I(2) : null)
                : (c.B.Scalar(c.Node.GetFloat("min", float.MinValue)), c.B.Scalar(c.Node.GetFloat("max", float.MaxValue)));
            var bounds = new[] { min is null ? null : c.B.Op("Greater", x, min), max is null ? null : c.B.Op("Less", x, max) }.OfType<Value>().ToList();
            if (bounds.Count == 0)
            {
                c.SetGI(0, c.GO(0)!);
                return;
            }
            var inside = bounds.Count == 2 ? c.B.Op("And", bounds[0], bounds[1]) : bounds[0];
            c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Cast(inside, TensorProto.Types.DataType.Float)));
        });
        // Y = max(0, min(1, α·X + β)): dX = α·dY · [0 < Y < 1] (the mask cast and multiplied, as for Relu)
        r.Add("HardSigmoid", c =>
        {
            var y = c.O(0);
            var inside = c.B.Op("And", c.B.Op("Greater", y, c.B.Scalar(0)), c.B.Op("Less", y, c.B.Scalar(1)));
            var slope = c.B.Mul(c.B.Cast(inside, TensorProto.Types.DataType.Float), c.B.Scalar(c.Node.GetFloat("alpha", 0.2f)));
            c.SetGI(0, c.B.Mul(c.GO(0)!, slope));
        });
        // Y = X·HardSigmoid(X) with α = 1/6, β = 1/2:
        // dX = 0 where X < −3, dY where X > 3, dY·(X/3 + 1/2) between
        r.Add("HardSwish", c =>
        {
            var x = c.I(0);
            var dY = c.GO(0)!;
            var between = c.B.Mul(dY, c.B.Add(c.B.Mul(x, c.B.Scalar(1f / 3)), c.B.Scalar(0.5f)));
            var upper = c.B.Where(c.B.Op("Greater", x, c.B.Scalar(3)), dY, between);
            c.SetGI(0, c.B.Where(c.B.Op("Less", x, c.B.Scalar(-3)), c.B.Scalar(0), upper));
        });
        // Y = X where X > 0 else slope·X (slope broadcast to X):
        // dX = dY where X > 0 else slope·dY;  dslope = Σ over broadcast axes of (X ≤ 0 ? dY·X : 0)
        r.Add("PRelu", c =>
        {
            var x = c.I(0);
            var dY = c.GO(0)!;
            var positive = c.B.Op("Greater", x, c.B.Scalar(0));
            if (c.Needs(0)) c.SetGI(0, c.B.Where(positive, dY, c.B.Mul(dY, c.I(1))));
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Where(positive, c.B.Scalar(0), c.B.Mul(dY, x)), c.I(1), c.O(0)));
        });
        // Y = X where X > 0 else α·(e^X − 1): dX = dY where X > 0 else dY·(Y + α)
        r.Add("Elu", c =>
        {
            var alpha = c.Node.GetFloat("alpha", 1f);
            var dY = c.GO(0)!;
            c.SetGI(0, c.B.Where(c.B.Op("Greater", c.I(0), c.B.Scalar(0)), dY, c.B.Mul(dY, c.B.Add(c.O(0), c.B.Scalar(alpha)))));
        });
        // Y = γ·X where X > 0 else γ·α·(e^X − 1): dX = γ·dY where X > 0 else dY·(Y + γ·α)
        r.Add("Selu", c =>
        {
            var alpha = c.Node.GetFloat("alpha", 1.67326319217681884765625f);
            var gamma = c.Node.GetFloat("gamma", 1.05070102214813232421875f);
            var dY = c.GO(0)!;
            c.SetGI(0, c.B.Where(c.B.Op("Greater", c.I(0), c.B.Scalar(0)), c.B.Mul(dY, c.B.Scalar(gamma)),
                c.B.Mul(dY, c.B.Add(c.O(0), c.B.Scalar(gamma * alpha)))));
        });
        // Y = max(0, X) + min(0, α·(e^(X/α) − 1)): dX = dY where X > 0 else dY·(Y/α + 1)
        r.Add("Celu", c =>
        {
            var alpha = c.Node.GetFloat("alpha", 1f);
            var dY = c.GO(0)!;
            var negative = c.B.Mul(dY, c.B.Add(c.B.Mul(c.O(0), c.B.Scalar(1 / alpha)), c.B.Scalar(1)));
            c.SetGI(0, c.B.Where(c.B.Op("Greater", c.I(0), c.B.Scalar(0)), dY, negative));
        });
        // Y = X where X > α else 0: dX = dY where X > α else 0
        r.Add("ThresholdedRelu", c =>
            c.SetGI(0, c.B.Where(c.B.Op("Greater", c.I(0), c.B.Scalar(c.Node.GetFloat("alpha", 1f))), c.GO(0)!, c.B.Scalar(0))));
        // Y = ln(1 + e^X): dX = dY·σ(X)
        r.Add("Softplus", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Op("Sigmoid", c.I(0)))));
        // Y = X / (1 + |X|): dX = dY / (1 + |X|)²
        r.Add("Softsign", c =>
        {
            var denominator = c.B.Add(c.B.Op("Abs", c.I(0)), c.B.Scalar(1));
            c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Mul(denominator, denominator)));
        });
        // Y = X·tanh(softplus(X)), t = tanh(softplus(X)): dX = dY·(t + X·(1 − t²)·σ(X))
        r.Add("Mish", c =>
        {
            var x = c.I(0);
            var t = c.B.Op("Tanh", c.B.Op("Softplus", x));
            var slope = c.B.Mul(c.B.Mul(x, c.B.Sub(c.B.Scalar(1), c.B.Mul(t, t))), c.B.Op("Sigmoid", x));
            c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Add(t, slope)));
        });
        r.Add("Gelu", Gelu, (node, _) => node.GetString("approximate", "none") is "none" or "tanh"
            ? null
            : $"approximate='{node.GetString("approximate", "none")}' is not a Gelu variant this tool knows");
    }

    // approximate = none:  Y = X·Φ(X), Φ(X) = ½(1 + erf(X/√2)):  dX = dY·(Φ(X) + X·e^(−X²/2)/√(2π))
    // approximate = tanh:  Y = ½X(1 + t), t = tanh(u), u = √(2/π)(X + 0.044715X³):
    //                      dX = dY·(½(1 + t) + ½X(1 − t²)·√(2/π)(1 + 3·0.044715X²))
    private static void Gelu(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var x2 = b.Mul(x, x);
        Value slope;
        if (c.Node.GetString("approximate", "none") == "tanh")
        {
            const float k = 0.044715f;
            var root = (float)Math.Sqrt(2 / Math.PI);
            var u = b.Mul(b.Scalar(root), b.Add(x, b.Mul(b.Scalar(k), b.Mul(x2, x))));
            var t = b.Op("Tanh", u);
            var du = b.Mul(b.Scalar(root), b.Add(b.Scalar(1), b.Mul(b.Scalar(3 * k), x2)));
            var half = b.Scalar(0.5f);
            slope = b.Add(b.Mul(half, b.Add(b.Scalar(1), t)), b.Mul(b.Mul(half, x), b.Mul(b.Sub(b.Scalar(1), b.Mul(t, t)), du)));
        }
        else
        {
            var phi = b.Mul(b.Scalar(0.5f), b.Add(b.Scalar(1), b.Op("Erf", b.Mul(x, b.Scalar((float)(1 / Math.Sqrt(2)))))));
            var density = b.Mul(b.Op("Exp", b.Mul(x2, b.Scalar(-0.5f))), b.Scalar((float)(1 / Math.Sqrt(2 * Math.PI))));
            slope = b.Add(phi, b.Mul(x, density));
        }
        c.SetGI(0, b.Mul(c.GO(0)!, slope));
    }
}
