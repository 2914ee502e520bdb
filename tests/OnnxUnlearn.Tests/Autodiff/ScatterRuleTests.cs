using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of ScatterElements and ScatterND (Scatter, opsets 9–10, is in
/// <see cref="LowOpsetRuleTests"/>) with reduction none and add, and the index sets they refuse.</summary>
[TestFixture]
public class ScatterRuleTests
{
    private const double Tolerance = 2e-3;

    private static Value Indices(GradientChecker k, long[] dims, params long[] values) =>
        k.Constant(TensorData.FromInt64s("idx", dims, values));

    [TestCase(11, 0, "none")]
    [TestCase(13, 1, "none")]
    [TestCase(16, -1, "none")]
    [TestCase(16, 0, "add")]
    [TestCase(18, 1, "add")]
    public void ScatterElements_with_a_negative_index(int opset, int axis, string reduction)
    {
        var k = new GradientChecker(opset);
        var data = k.Input("data", [3, 4]);
        // [2, 3] indices: distinct along the axis within each fibre (repeats across fibres), one negative
        var idx = axis == 0 ? Indices(k, [2, 3], 2, 0, 1, -3, 2, 2) : Indices(k, [2, 3], 3, 0, -3, 0, 2, 3);
        var updates = k.Input("updates", [2, 3]);
        var attributes = new List<Onnx.AttributeProto> { Attr.Int("axis", axis) };
        if (opset >= 16) attributes.Add(Attr.String("reduction", reduction));
        var y = k.Builder.Op("ScatterElements", [data, idx, updates], [.. attributes]);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(11, "none", new long[] { 2, 1 }, new long[] { 2, 0 })]
    [TestCase(13, "none", new long[] { 3, 2 }, new long[] { 0, 1, 2, 3, -1, 0 })]
    [TestCase(16, "add", new long[] { 3, 1 }, new long[] { 1, 1, 0 })]
    [TestCase(18, "none", new long[] { 2, 3 }, new long[] { 0, 1, 1, 2, -1, 0 })]
    public void ScatterND_rows_elements_and_repeated_adds(int opset, string reduction, long[] indexDims, long[] values)
    {
        var k = new GradientChecker(opset);
        var data = k.Input("data", [3, 4, 2]);
        var idx = Indices(k, indexDims, values);
        // updates: idx.shape[:-1] + data.shape[k:]
        long[] updateDims = [.. indexDims[..^1], .. new long[] { 3, 4, 2 }[(int)indexDims[^1]..]];
        var updates = k.Input("updates", updateDims);
        var attributes = opset >= 16 ? new[] { Attr.String("reduction", reduction) } : [];
        var y = k.Builder.Op("ScatterND", [data, idx, updates], attributes);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    private static string? Reason(string op, long[] indexDims, long[] values, bool constant = true, string reduction = "none")
    {
        var graph = new Graph();
        var builder = new GraphBuilder(graph, 18, "t");
        var data = graph.AddInput("data", TensorTypes.Float(3, 4));
        var indices = constant ? builder.Graph.AddInitializer(TensorData.FromInt64s("idx", indexDims, values)) : graph.AddInput("idx", TensorTypes.Of(Onnx.TensorProto.Types.DataType.Int64, indexDims));
        var updates = graph.AddInput("updates", TensorTypes.Float(2, 2));
        var node = graph.AddNode(op, [data, indices, updates], 1, [Attr.String("reduction", reduction)]);
        return GradientRegistry.Default.Unsupported(node, 18);
    }

    [Test]
    public void Indices_written_twice_or_computed_at_run_time_are_refused_without_a_reduction()
    {
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 0, 1]), Does.Contain("written twice"));
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 1, 0]), Is.Null);
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 0, 1], reduction: "add"), Is.Null);
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 0, 1], constant: false), Does.Contain("run time"));
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 0, 1], constant: false, reduction: "add"), Is.Null);
        Assert.That(Reason("ScatterND", [2, 2], [0, 1, 1, 0], reduction: "mul"), Does.Contain("'mul'"));
        // along axis 0, index [i, j] writes row idx[i, j] of column j: a row may repeat across columns
        Assert.That(Reason("ScatterElements", [2, 2], [0, 0, 1, 1]), Is.Null);
        Assert.That(Reason("ScatterElements", [2, 2], [1, 0, 1, 1]), Does.Contain("written twice"));
    }
}
