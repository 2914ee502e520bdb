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
    }

    private static string? CheckAxes(Node node, int opset) =>
        node.Inputs.Count > 1 && node.Inputs[1] is { Initializer: null, Producer: not { OpType: "Constant" } }
            ? "reduction axes computed at run time are not supported (they must be a constant)"
            : null;

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

    internal static long[] ConstantInts(Value value) =>
        value.Initializer?.ToInt64Array()
        ?? (value.Producer is { OpType: "Constant" } p && p.Attribute("value") is { } a ? new TensorData(a.T).ToInt64Array() : null)
        ?? throw new UserInputException($"'{value.Name}' must be a constant");

    private static Value Spread(GradientContext c, Value dY)
    {
        var axes = Axes(c);
        if (c.Node.GetInt("keepdims", 1) == 0 && axes.Length > 0)
            dY = c.B.Unsqueeze(dY, axes);
        return c.B.Op("Expand", dY, c.B.Shape(c.I(0)));
    }
}
