using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of Gather, GatherElements, GatherND and TopK, with repeated and negative
/// indices, before opset 16 (one-hot products) and after (ScatterElements with reduction add).</summary>
[TestFixture]
public class GatherRuleTests
{
    private const double Tolerance = 2e-3;

    private static Value Indices(GradientChecker k, long[] dims, params long[] values) =>
        k.Constant(TensorData.FromInt64s("idx", dims, values));

    [TestCase(9)]
    [TestCase(11)]
    [TestCase(13)]
    [TestCase(16)]
    [TestCase(18)]
    public void Gather_embedding_with_repeated_and_negative_tokens(int opset)
    {
        var k = new GradientChecker(opset);
        var table = k.Input("table", [6, 4]);
        var tokens = Indices(k, [2, 3], 1, 4, 1, -1, 0, 4);
        var b = k.Builder;
        var y = b.Op("Gather", [table, tokens], Attr.Int("axis", 0));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13, 1, new long[] { 2 })]
    [TestCase(17, 1, new long[] { 2 })]
    [TestCase(13, 2, new long[] { 3, 2 })]
    [TestCase(17, -1, new long[] { 3, 2 })]
    [TestCase(17, 1, new long[0])]
    [TestCase(13, 1, new long[0])]
    public void Gather_other_axes_and_index_ranks(int opset, int axis, long[] indexDims)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 3, 4]);
        var count = (int)indexDims.Aggregate(1L, (p, d) => p * d);
        var values = Enumerable.Range(0, count).Select(i => (long)(i * 2 % 3 - (i == 1 ? 3 : 0))).ToArray();
        var idx = Indices(k, indexDims, values);
        var b = k.Builder;
        var y = b.Op("Gather", [x, idx], Attr.Int("axis", axis));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13, 0)]
    [TestCase(13, 1)]
    [TestCase(17, 0)]
    [TestCase(17, -1)]
    public void GatherElements_with_repeats_and_a_smaller_index(int opset, int axis)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [3, 4]);
        // 2 x 3 indices (smaller than X on the other axis too), repeats and a negative index
        var idx = axis == 0 ? Indices(k, [2, 3], 0, 2, 2, -1, 0, 2) : Indices(k, [2, 3], 3, 3, 0, 1, -4, 2);
        var b = k.Builder;
        var y = b.Op("GatherElements", [x, idx], Attr.Int("axis", axis));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13)]
    [TestCase(17)]
    public void GatherND_rows_and_elements(int opset)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [3, 4, 2]);
        var b = k.Builder;
        // k = 1: whole rows, one repeated
        var rows = b.Op("GatherND", x, Indices(k, [3, 1], 2, 0, 2));
        // k = 2: vectors X[i, j, :], one negative
        var vectors = b.Op("GatherND", x, Indices(k, [2, 2, 2], 0, 1, 2, -1, 0, 1, 1, 3));
        k.Output(b.Mul(rows, rows));
        k.Output(b.Mul(vectors, vectors));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13)]
    [TestCase(17)]
    public void GatherND_with_batch_dims(int opset)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 3, 4]);
        var b = k.Builder;
        // batch_dims = 1, k = 1: per batch element pick rows (a repeat in the second)
        var picked = b.Op("GatherND", [x, Indices(k, [2, 2, 1], 2, 0, 1, 1)], Attr.Int("batch_dims", 1));
        // batch_dims = 1, k = 2: per batch element pick scalars
        var scalars = b.Op("GatherND", [x, Indices(k, [2, 3, 2], 0, 0, 2, 3, 2, 3, 1, 1, 1, 1, 0, -1)], Attr.Int("batch_dims", 1));
        k.Output(b.Mul(picked, picked));
        k.Output(b.Mul(scalars, scalars));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(11, -1, 1)]
    [TestCase(11, 0, 0)]
    [TestCase(13, 1, 1)]
    [TestCase(10, -1, 1)]
    public void TopK_values(int opset, int axis, int largest)
    {
        var k = new GradientChecker(opset);
        var x = k.DistinctInput("x", [3, 5]);
        var b = k.Builder;
        var attributes = new List<Onnx.AttributeProto> { Attr.Int("axis", axis) };
        if (opset >= 11) attributes.Add(Attr.Int("largest", largest));
        var outputs = b.OpMulti("TopK", [x, b.Ints(2)], 2, [.. attributes]);
        k.Output(b.Mul(outputs[0], outputs[0]));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }
}
