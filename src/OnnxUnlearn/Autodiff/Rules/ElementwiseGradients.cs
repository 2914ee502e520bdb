using OnnxUnlearn.Ir;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Arithmetic and unary math. Binary ops broadcast: each input gradient is summed back
/// to that input's shape (<see cref="GradientContext.ReduceToShapeOf"/>).</summary>
internal static class ElementwiseGradients
{
    public static void Register(GradientRegistry r)
    {
        // dA = dY, dB = dY
        r.Add("Add", c =>
        {
            var dY = c.GO(0)!;
            c.SetGI(0, c.ReduceToShapeOf(dY, c.I(0), c.O(0)));
            c.SetGI(1, c.ReduceToShapeOf(dY, c.I(1), c.O(0)));
        });
        // dA = dY, dB = -dY
        r.Add("Sub", c =>
        {
            var dY = c.GO(0)!;
            c.SetGI(0, c.ReduceToShapeOf(dY, c.I(0), c.O(0)));
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Neg(dY), c.I(1), c.O(0)));
        });
        // dA = dY·B, dB = dY·A
        r.Add("Mul", c =>
        {
            var dY = c.GO(0)!;
            if (c.Needs(0)) c.SetGI(0, c.ReduceToShapeOf(c.B.Mul(dY, c.I(1)), c.I(0), c.O(0)));
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Mul(dY, c.I(0)), c.I(1), c.O(0)));
        });
        // dA = dY / B, dB = -dY·Y / B
        r.Add("Div", c =>
        {
            var dY = c.GO(0)!;
            if (c.Needs(0)) c.SetGI(0, c.ReduceToShapeOf(c.B.Div(dY, c.I(1)), c.I(0), c.O(0)));
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Neg(c.B.Div(c.B.Mul(dY, c.O(0)), c.I(1))), c.I(1), c.O(0)));
        });
        // dA = dY·B·A^(B−1), dB = dY·Y·ln(A)
        r.Add("Pow", c =>
        {
            var dY = c.GO(0)!;
            var exponent = c.I(1).ElementType == DataType.Float || c.I(1).Initializer is null ? c.I(1) : c.B.Cast(c.I(1), DataType.Float);
            if (c.Needs(0))
            {
                var aPowBMinus1 = c.B.Op("Pow", c.I(0), c.B.Sub(exponent, c.B.Scalar(1)));
                c.SetGI(0, c.ReduceToShapeOf(c.B.Mul(dY, c.B.Mul(exponent, aPowBMinus1)), c.I(0), c.O(0)));
            }
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Mul(dY, c.B.Mul(c.O(0), c.B.Op("Log", c.I(0)))), c.I(1), c.O(0)));
        });
        // dXi = dY for every input
        r.Add("Sum", c =>
        {
            for (var i = 0; i < c.InputCount; i++)
                if (c.Needs(i)) c.SetGI(i, c.ReduceToShapeOf(c.GO(0)!, c.I(i), c.O(0)));
        });
        // dXi = dY / n for every input
        r.Add("Mean", c =>
        {
            var scaled = c.B.Mul(c.GO(0)!, c.B.Scalar(1f / c.InputCount));
            for (var i = 0; i < c.InputCount; i++)
                if (c.Needs(i)) c.SetGI(i, c.ReduceToShapeOf(scaled, c.I(i), c.O(0)));
        });
        // dXi = dY where Xi == Y (every tied input gets the gradient)
        r.Add("Max", MinMax);
        r.Add("Min", MinMax);
        // dX = -dY
        r.Add("Neg", c => c.SetGI(0, c.B.Neg(c.GO(0)!)));
        // dX = dY·sign(X)
        r.Add("Abs", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Sign(c.I(0)))));
        // dX = dY / (2·Y)
        r.Add("Sqrt", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Mul(c.O(0), c.B.Scalar(2)))));
        // dX = dY·Y
        r.Add("Exp", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.O(0))));
        // dX = dY / X
        r.Add("Log", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.I(0))));
        // dX = −dY·Y²
        r.Add("Reciprocal", c => c.SetGI(0, c.B.Neg(c.B.Mul(c.GO(0)!, c.B.Mul(c.O(0), c.O(0))))));
        // dX = dY·cos(X)
        r.Add("Sin", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Op("Cos", c.I(0)))));
        // dX = −dY·sin(X)
        r.Add("Cos", c => c.SetGI(0, c.B.Neg(c.B.Mul(c.GO(0)!, c.B.Op("Sin", c.I(0))))));
        // dX = dY·(1 + Y²)
        r.Add("Tan", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Add(c.B.Scalar(1), c.B.Mul(c.O(0), c.O(0))))));
        // dX = dY / (1 + X²)
        r.Add("Atan", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Add(c.B.Scalar(1), c.B.Mul(c.I(0), c.I(0))))));
        // dX = dY / √(1 − X²)
        r.Add("Asin", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Op("Sqrt", c.B.Sub(c.B.Scalar(1), c.B.Mul(c.I(0), c.I(0)))))));
        // dX = −dY / √(1 − X²)
        r.Add("Acos", c => c.SetGI(0, c.B.Neg(c.B.Div(c.GO(0)!, c.B.Op("Sqrt", c.B.Sub(c.B.Scalar(1), c.B.Mul(c.I(0), c.I(0))))))));
        // dX = dY·cosh(X)
        r.Add("Sinh", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Op("Cosh", c.I(0)))));
        // dX = dY·sinh(X)
        r.Add("Cosh", c => c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Op("Sinh", c.I(0)))));
        // dX = dY / √(X² + 1)
        r.Add("Asinh", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Op("Sqrt", c.B.Add(c.B.Mul(c.I(0), c.I(0)), c.B.Scalar(1))))));
        // dX = dY / √(X² − 1)
        r.Add("Acosh", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Op("Sqrt", c.B.Sub(c.B.Mul(c.I(0), c.I(0)), c.B.Scalar(1))))));
        // dX = dY / (1 − X²)
        r.Add("Atanh", c => c.SetGI(0, c.B.Div(c.GO(0)!, c.B.Sub(c.B.Scalar(1), c.B.Mul(c.I(0), c.I(0))))));
        // d erf(x) = 2/√π · exp(−x²)
        r.Add("Erf", c =>
        {
            var x = c.I(0);
            var expNegSq = c.B.Op("Exp", c.B.Neg(c.B.Mul(x, x)));
            c.SetGI(0, c.B.Mul(c.GO(0)!, c.B.Mul(expNegSq, c.B.Scalar((float)(2 / Math.Sqrt(Math.PI))))));
        });
        // dA = Where(C, dY, 0), dB = Where(C, 0, dY); the condition has no gradient
        r.Add("Where", c =>
        {
            var dY = c.GO(0)!;
            var zero = c.B.Scalar(0);
            if (c.Needs(1)) c.SetGI(1, c.ReduceToShapeOf(c.B.Where(c.I(0), dY, zero), c.I(1), c.O(0)));
            if (c.Needs(2)) c.SetGI(2, c.ReduceToShapeOf(c.B.Where(c.I(0), zero, dY), c.I(2), c.O(0)));
        });
        // float→float casts pass the gradient back in the input's type; casts to integers cut it
        r.Add("Cast", c =>
        {
            var from = c.I(0).ElementType;
            c.SetGI(0, from is DataType.Float or DataType.Undefined ? c.GO(0)! : c.B.Cast(c.GO(0)!, from));
        });
        r.AddNonDifferentiable("Shape", "Size", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Not", "And", "Or",
            "Xor", "ArgMax", "ArgMin", "Constant", "ConstantOfShape", "Range", "NonZero", "Floor", "Ceil", "Round", "Sign",
            "IsNaN", "IsInf", "OneHot", "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
            "Mod", "BitShift", "NonMaxSuppression", "Hardmax", "Bernoulli", "Multinomial", "Unique", "BitwiseAnd", "BitwiseOr",
            "BitwiseXor", "BitwiseNot");
    }

    private static void MinMax(GradientContext c)
    {
        var dY = c.GO(0)!;
        var zero = c.B.Scalar(0);
        for (var i = 0; i < c.InputCount; i++)
            if (c.Needs(i))
                c.SetGI(i, c.ReduceToShapeOf(c.B.Where(c.B.FloatEqual(c.I(i), c.O(0)), dY, zero), c.I(i), c.O(0)));
    }
}
