using OnnxUnlearn.Ir;
using static OnnxUnlearn.Autodiff.Rules.RuleHelpers;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// Scatter (opsets 9–10), ScatterElements and ScatterND: Y is the data with the updates written
/// (reduction none) or added (reduction add) at the indexed positions. The gradient of the data is
/// dY with the overwritten positions zeroed (none) or dY itself (add); the gradient of the updates
/// is dY read back at their positions. With reduction none and an index written twice, which update
/// wins is unspecified, so the indices must be constants with no position written twice. Indices
/// get no gradient.
/// </summary>
internal static class ScatterGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("Scatter", ScatterElements, CheckElements);
        r.Add("ScatterElements", ScatterElements, CheckElements);
        r.Add("ScatterND", ScatterND, CheckND);
    }

    // Y = ScatterElements(data, idx, updates, axis): Y[..., idx[j], ...] = updates[j] (or += with add)
    //   dData = ScatterElements(dY, idx, 0) (none) or dY (add);  dUpdates[j] = dY[..., idx[j], ...]
    private static void ScatterElements(GradientContext c)
    {
        var b = c.B;
        var dims = c.ShapeOf(c.I(0));
        var axis = Axis(c.GetInt("axis", 0), dims.Length);
        var dY = c.GO(0)!;
        var overwrites = c.Node.GetString("reduction", "none") == "none";
        if (c.Needs(0))
            c.SetGI(0, overwrites ? b.ScatterElements(dY, c.I(1), b.ZerosLike(c.I(2)), axis) : dY);
        if (c.Needs(2))
            c.SetGI(2, b.GatherElements(dY, c.I(1), axis, dims));
    }

    // Y = ScatterND(data, idx, updates): Y[idx[j]] = updates[j] (or += with add), idx[j] a k-tuple
    //   dData = ScatterND(dY, idx, 0) (none) or dY (add);  dUpdates = GatherND(dY, idx)
    private static void ScatterND(GradientContext c)
    {
        var b = c.B;
        var dY = c.GO(0)!;
        var overwrites = c.Node.GetString("reduction", "none") == "none";
        if (c.Needs(0))
            c.SetGI(0, overwrites ? b.Op("ScatterND", dY, c.I(1), b.ZerosLike(c.I(2))) : dY);
        if (c.Needs(2))
            c.SetGI(2, b.Op("GatherND", dY, c.I(1)));
    }

    private static string? CheckElements(Node node, int opset) =>
        CheckReduction(node) ?? (node.GetString("reduction", "none") == "none"
            ? CheckWrittenOnce(node, (dims, values) =>
            {
                // positions differ unless two indices of one fibre along the axis are equal
                var axis = Axis(node.GetInt("axis", 0), dims.Length);
                var stride = dims[(axis + 1)..].Aggregate(1L, (p, d) => p * d);
                return values.Select((v, i) => (i / (stride * dims[axis]), i % stride, v)).Distinct().Count() == values.Length;
            })
            : null);

    private static string? CheckND(Node node, int opset) =>
        CheckReduction(node) ?? (node.GetString("reduction", "none") == "none"
            ? CheckWrittenOnce(node, (dims, values) =>
            {
                var k = (int)dims[^1];
                return k == 0 || values.Chunk(k).Select(tuple => string.Join(",", tuple)).Distinct().Count() == values.Length / k;
            })
            : null);

    private static string? CheckReduction(Node node) =>
        node.GetString("reduction", "none") is "none" or "add"
            ? null
            : $"reduction '{node.GetString("reduction", "none")}' is not supported (only none and add)";

    private static string? CheckWrittenOnce(Node node, Func<long[], long[], bool> distinct)
    {
        var indices = InputAt(node, 1);
        if (indices is null || TryConstantInts(indices) is not { } values || ConstantDims(indices) is not { } dims)
            return "indices computed at run time are not supported with reduction none (they must be a constant)";
        return distinct(dims, values)
            ? null
            : "an index written twice with reduction none is not supported (which update wins is unspecified)";
    }
}
