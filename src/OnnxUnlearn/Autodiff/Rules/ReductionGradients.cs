using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Reductions. The reduced axes come from the attribute (ReduceSum before opset 13,
/// the others before 18) or the constant second input; none means every axis (unless
/// noop_with_empty_axes).</summary>
internal static class ReductionGradients
{
    public static void Register(GradientRegistry r)
    {
        // dX = Expand(dY with the reduced axes restored, Shape(X))
        r.Add("ReduceSum", c => c.SetGI(0, Spread(c, c.GO(0)!)), CheckAxes);
        // dX = Expand(dY, Shape(X)) / (number of reduced elements)
        r.Add("ReduceMean", c =>
        {
            var dims = c.ShapeOf(c.I(0));
            var count = Axes(c).Aggregate(1L, (n, a) => n * dims[a]);
            c.SetGI(0, Spread(c, c.B.Mul(c.GO(0)!, c.B.Scalar(1f / count))));
        }, CheckAxes);
        // dX = dY where X equals the extreme Y (every tied element gets it), else 0
        r.Add("ReduceMax", MaskByEquality, CheckAxes);
        r.Add("ReduceMin", MaskByEquality, CheckAxes);
        // Y = √(ΣX²): dX = dY·X / Y
        r.Add("ReduceL2", c => c.SetGI(0, c.B.Div(c.B.Mul(Kept(c, c.GO(0)!), c.I(0)), Kept(c, c.O(0)))), CheckAxes);
        // Y = Σ|X|: dX = dY·sign(X)
        r.Add("ReduceL1", c => c.SetGI(0, c.B.Mul(Kept(c, c.GO(0)!), c.B.Sign(c.I(0)))), CheckAxes);
        // Y = ΣX²: dX = 2·X·dY
        r.Add("ReduceSumSquare", c => c.SetGI(0, c.B.Mul(Kept(c, c.GO(0)!), c.B.Mul(c.I(0), c.B.Scalar(2)))), CheckAxes);
        // Y = ln Σ e^X: dX = dY·e^(X − Y)
        r.Add("ReduceLogSumExp", c => c.SetGI(0, c.B.Mul(Kept(c, c.GO(0)!), c.B.Op("Exp", c.B.Sub(c.I(0), Kept(c, c.O(0)))))), CheckAxes);
        // Y = ln ΣX: dX = dY / ΣX = dY·e^(−Y)
        r.Add("ReduceLogSum", c => c.SetGI(0, Spread(c, c.B.Mul(c.GO(0)!, c.B.Op("Exp", c.B.Neg(c.O(0)))))), CheckAxes);
        // Y = ΠX: dX = dY·Y / X (X ≠ 0)
        r.Add("ReduceProd", c => c.SetGI(0, c.B.Div(c.B.Mul(Kept(c, c.GO(0)!), Kept(c, c.O(0))), c.I(0))), CheckAxes);
        // Y = CumSum(X, axis): dX = CumSum(dY, axis) in the other direction (reverse flipped)
        r.Add("CumSum", c => c.SetGI(0, c.B.Op("CumSum", [c.GO(0)!, c.I(1)],
            Attr.Int("exclusive", c.GetInt("exclusive", 0)), Attr.Int("reverse", 1 - c.GetInt("reverse", 0)))));
    }

    // dX = dY where X == Y (ties all get the gradient)
    private static void MaskByEquality(GradientContext c) =>
        c.SetGI(0, c.B.Where(c.B.FloatEqual(c.I(0), Kept(c, c.O(0))), Kept(c, c.GO(0)!), c.B.Scalar(0)));

    /// <summary>A reduced value with its reduced axes restored as size 1 (broadcasts against X).</summary>
    private static Value Kept(GradientContext c, Value reduced) => RuleHelpers.KeepDims(c, reduced, Axes(c));

    private static string? CheckAxes(Node node, int opset) =>
        RuleHelpers.IsConstantOrAbsent(RuleHelpers.InputAt(node, 1))
            ? null
            : "reduction axes computed at run time are not supported (they must be a constant)";

    /// <summary>The reduced axes, normalised to non-negative and sorted.</summary>
    internal static long[] Axes(GradientContext c)
    {
        var rank = c.RankOf(c.I(0));
        long[]? axes = c.Node.GetInts("axes");
        if (axes is null && c.HasInput(1))
            axes = ConstantInts(c.I(1));
        if (axes is null || axes.Length == 0)
            return c.Node.GetInt("noop_with_empty_axes", 0) != 0 ? [] : Enumerable.Range(0, rank).Select(a => (long)a).ToArray();
        return axes.Select(a => a < 0 ? a + rank : a).Order().ToArray();
    }

    internal static long[] ConstantInts(Value value) => RuleHelpers.ConstantInts(value);

    private static Value Spread(GradientContext c, Value dY)
    {
        var axes = Axes(c);
        if (c.Node.GetInt("keepdims", 1) == 0 && axes.Length > 0)
            dY = c.B.Unsqueeze(dY, axes);
        return c.B.ExpandLike(dY, c.I(0));
    }
}
