using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of Resize and Upsample: nearest (integer factors take the reshape-and-sum
/// path, other factors the matrix path), linear and cubic with each coordinate transform, scales and
/// sizes, NCHW and NHWC, opsets 9 to 19.</summary>
[TestFixture]
public class ResizeRuleTests
{
    private const double Tolerance = 2e-3;

    private static Value ResizeNode(GraphBuilder b, Value x, float[]? scales, long[]? sizes, params Onnx.AttributeProto[] attributes)
    {
        var roi = b.Floats([0], []);
        var inputs = b.Opset >= 11
            ? new Value?[] { x, roi, scales is null ? null : b.Floats([scales.Length], scales), sizes is null ? null : b.Ints(sizes) }
            : [x, b.Floats([scales!.Length], scales)];
        return b.Op("Resize", inputs, attributes);
    }

    [TestCase(13, "asymmetric", "floor")]
    [TestCase(13, "half_pixel", "round_prefer_floor")]
    [TestCase(13, "align_corners", "round_prefer_ceil")]
    [TestCase(11, "tf_half_pixel_for_nn", "ceil")]
    [TestCase(19, "half_pixel_symmetric", "round_prefer_floor")]
    [TestCase(10, "", "")]
    public void Nearest_2x(int opset, string transform, string nearestMode)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 3, 4, 5]);
        var attributes = new List<Onnx.AttributeProto> { Attr.String("mode", "nearest") };
        if (opset >= 11)
        {
            attributes.Add(Attr.String("coordinate_transformation_mode", transform));
            attributes.Add(Attr.String("nearest_mode", nearestMode));
        }
        var y = ResizeNode(k.Builder, x, [1, 1, 2, 2], null, [.. attributes]);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("half_pixel", "round_prefer_floor", new long[] { 2, 3, 7, 4 })]
    [TestCase("asymmetric", "floor", new long[] { 2, 3, 6, 13 })]
    [TestCase("pytorch_half_pixel", "round_prefer_ceil", new long[] { 2, 3, 3, 2 })]
    [TestCase("align_corners", "round_prefer_floor", new long[] { 2, 3, 1, 9 })]
    public void Nearest_to_sizes(string transform, string nearestMode, long[] sizes)
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [2, 3, 4, 5]);
        var y = ResizeNode(k.Builder, x, null, sizes, Attr.String("mode", "nearest"),
            Attr.String("coordinate_transformation_mode", transform), Attr.String("nearest_mode", nearestMode));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13, "half_pixel", 2f)]
    [TestCase(13, "align_corners", 2f)]
    [TestCase(13, "asymmetric", 1.5f)]
    [TestCase(13, "pytorch_half_pixel", 0.5f)]
    [TestCase(18, "half_pixel", 2.5f)]
    [TestCase(10, "", 2f)]
    public void Linear(int opset, string transform, float scale)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 2, 4, 6]);
        var attributes = new List<Onnx.AttributeProto> { Attr.String("mode", "linear") };
        if (opset >= 11) attributes.Add(Attr.String("coordinate_transformation_mode", transform));
        var y = ResizeNode(k.Builder, x, [1, 1, scale, scale], null, [.. attributes]);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Linear_nhwc_to_sizes()
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [2, 4, 5, 3]);
        var y = ResizeNode(k.Builder, x, null, [2, 8, 7, 3], Attr.String("mode", "linear"));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Opset18_axes()
    {
        var k = new GradientChecker(18);
        var x = k.Input("x", [2, 3, 4, 5]);
        var b = k.Builder;
        var y = b.Op("Resize", [x, null, b.Floats([2], [2f, 1.5f]), null], Attr.String("mode", "linear"), Attr.Ints("axes", [2, 3]));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(0, -0.75f, 2f)]
    [TestCase(1, -0.5f, 2f)]
    [TestCase(0, -0.75f, 1.5f)]
    public void Cubic(int excludeOutside, float a, float scale)
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [1, 2, 5, 4]);
        var y = ResizeNode(k.Builder, x, [1, 1, scale, scale], null, Attr.String("mode", "cubic"),
            Attr.Int("exclude_outside", excludeOutside), Attr.Float("cubic_coeff_a", a));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("nearest")]
    [TestCase("linear")]
    public void Upsample_opset9(string mode)
    {
        var k = new GradientChecker(9);
        var x = k.Input("x", [2, 3, 3, 4]);
        var b = k.Builder;
        var y = b.Op("Upsample", [x, b.Floats([4], [1, 1, 2, 3])], Attr.String("mode", mode));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
