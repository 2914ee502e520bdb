using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of the data-movement rules: Concat, Split, Slice, Pad, Expand, Tile, Trilu.</summary>
[TestFixture]
public class ShapeRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(-1)]
    public void Concat_three_inputs_one_constant(int axis)
    {
        var k = new GradientChecker();
        long[] Dims(long n) => axis == 0 ? [n, 3, 4] : axis == 1 ? [2, n, 4] : [2, 3, n];
        var a = k.Input("a", Dims(2));
        var b = k.Input("b", Dims(3));
        var constant = k.Constant(TensorData.FromFloats("c", Dims(1), Enumerable.Repeat(0.5f, (int)Dims(1).Aggregate(1L, (p, d) => p * d)).ToArray()));
        var y = k.Builder.Concat(axis, a, constant, b);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(11)]
    [TestCase(13)]
    [TestCase(18)]
    public void Split_uneven_with_an_unused_output(int opset)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 7, 3]);
        var b = k.Builder;
        IReadOnlyList<Value> parts = opset switch
        {
            11 => b.OpMulti("Split", [x], 3, Attr.Int("axis", 1), Attr.Ints("split", [2, 4, 1])),
            13 => b.OpMulti("Split", [x, b.Ints(2, 4, 1)], 3, Attr.Int("axis", 1)),
            // num_outputs=3 over 7: sizes 3, 3, 1
            _ => b.OpMulti("Split", [x], 3, Attr.Int("axis", -2), Attr.Int("num_outputs", 3)),
        };
        k.Output(b.Mul(parts[0], parts[0]));
        k.Output(parts[2]);
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 1, 0 }, new long[] { 3, 100 }, new long[] { 1, 2 }, new long[] { 1, 1 })]
    [TestCase(new long[] { -4, 1 }, new long[] { -1, -1 }, new long[] { 1, 2 }, new long[] { 1, 1 })]
    [TestCase(new long[] { 0 }, new long[] { long.MaxValue }, new long[] { 2 }, new long[] { 2 })]
    [TestCase(new long[] { 1, 0 }, new long[] { 6, 5 }, new long[] { 1, 2 }, new long[] { 2, 3 })]
    [TestCase(new long[] { -1 }, new long[] { long.MinValue }, new long[] { 2 }, new long[] { -1 })]
    [TestCase(new long[] { 5, 4 }, new long[] { 0, -100 }, new long[] { 1, 2 }, new long[] { -2, -3 })]
    [TestCase(new long[] { 10, 1 }, new long[] { -10, 4 }, new long[] { -1, 0 }, new long[] { -3, 2 })]
    [TestCase(new long[] { 2 }, new long[] { 3 }, new long[] { 2 }, new long[] { 5 })]
    [TestCase(new long[] { 0, 1 }, new long[] { 6, 7 }, new long[] { 2, 1 }, new long[] { 2, 3 })]
    public void Slice_with_steps(long[] starts, long[] ends, long[] axes, long[] steps)
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [2, 7, 6]);
        var b = k.Builder;
        var y = b.Slice(x, starts, ends, axes, steps);
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Slice_opset9_attributes()
    {
        var k = new GradientChecker(9);
        var x = k.Input("x", [3, 5, 4]);
        var b = k.Builder;
        var y = b.Op("Slice", [x], Attr.Ints("starts", [1, -3]), Attr.Ints("ends", [100, -1]), Attr.Ints("axes", [0, 2]));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Slice_to_nothing_gives_zeros()
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [3, 4]);
        var b = k.Builder;
        k.Output(b.Add(b.Slice(x, [3], [1], [1]), b.ReduceSum(x, [1], keepDims: true)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(9, new long[] { 1, 0, 2, 0, 2, 1 })]
    [TestCase(11, new long[] { 0, 2, 1, 1, 0, 3 })]
    [TestCase(11, new long[] { 0, -1, 2, 0, 1, -2 })]
    [TestCase(13, new long[] { 0, 0, 0, 0, 0, 0 })]
    public void Pad_constant(int opset, long[] pads)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 4, 5]);
        var b = k.Builder;
        var y = opset < 11
            ? b.Op("Pad", [x], Attr.Ints("pads", pads), Attr.Float("value", 0.3f))
            : b.Op("Pad", x, b.Ints(pads), b.Scalar(0.3f));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Pad_opset18_axes_and_value_gradient()
    {
        var k = new GradientChecker(18);
        var x = k.Input("x", [2, 3, 4]);
        var value = k.Input("value", [], 0.2f, 0.4f);
        var b = k.Builder;
        var y = b.Op("Pad", x, b.Ints(1, 2, 2, -1), value, b.Ints(-1, 1));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 3, 1 }, new long[] { 2, 3, 4 })]
    [TestCase(new long[] { 4 }, new long[] { 3, 1 })]
    [TestCase(new long[] { 2, 1, 3 }, new long[] { 2, 5, 3 })]
    public void Expand_broadcasts(long[] xDims, long[] shape)
    {
        var k = new GradientChecker();
        var x = k.Input("x", xDims);
        var b = k.Builder;
        var y = b.Op("Expand", x, b.Ints(shape));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 2, 1, 3 })]
    [TestCase(new long[] { 1, 1, 1 })]
    [TestCase(new long[] { 3, 2, 1 })]
    public void Tile(long[] repeats)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 2]);
        var b = k.Builder;
        var y = b.Op("Tile", x, b.Ints(repeats));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(1, 0)]
    [TestCase(0, 1)]
    [TestCase(1, -1)]
    public void Trilu(int upper, long diagonal)
    {
        var k = new GradientChecker(14);
        var x = k.Input("x", [2, 4, 5]);
        var b = k.Builder;
        var y = b.Op("Trilu", [x, b.IntScalar(diagonal)], Attr.Int("upper", upper));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("DepthToSpace", "DCR")]
    [TestCase("DepthToSpace", "CRD")]
    [TestCase("SpaceToDepth", "")]
    public void Depth_and_space(string op, string mode)
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", op == "DepthToSpace" ? [2, 8, 2, 3] : [2, 2, 4, 6]);
        var b = k.Builder;
        var attributes = new List<Onnx.AttributeProto> { Attr.Int("blocksize", 2) };
        if (mode.Length > 0) attributes.Add(Attr.String("mode", mode));
        var y = b.Op(op, [x], [.. attributes]);
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
