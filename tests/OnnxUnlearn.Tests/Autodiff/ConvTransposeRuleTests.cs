using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of ConvTranspose: strides, pads, output_padding, dilations, groups,
/// auto_pad and output_shape (whose pad split is the runtime's).</summary>
[TestFixture]
public class ConvTransposeRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase(1, 1, 1, new long[] { 0, 0, 0, 0 }, new long[] { 0, 0 })]
    [TestCase(2, 1, 1, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 })]
    [TestCase(2, 1, 1, new long[] { 0, 1, 1, 0 }, new long[] { 0, 1 })]
    [TestCase(3, 1, 2, new long[] { 1, 0, 2, 1 }, new long[] { 2, 0 })]
    [TestCase(1, 2, 1, new long[] { 2, 2, 2, 2 }, new long[] { 0, 0 })]
    [TestCase(2, 2, 4, new long[] { 1, 1, 0, 0 }, new long[] { 1, 0 })]
    public void ConvTranspose2d(int stride, int dilation, int group, long[] pads, long[] outputPadding)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 4, 4, 3]);
        var w = k.Input("w", [4, 8 / group, 3, 3]);
        var b = k.Input("b", [8]);
        k.Output(k.Builder.Op("ConvTranspose", [x, w, b],
            Attr.Ints("strides", [stride, stride]), Attr.Ints("dilations", [dilation, dilation]), Attr.Int("group", group),
            Attr.Ints("pads", pads), Attr.Ints("output_padding", outputPadding)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("SAME_UPPER", 2)]
    [TestCase("SAME_LOWER", 2)]
    [TestCase("SAME_UPPER", 3)]
    [TestCase("VALID", 2)]
    public void ConvTranspose_auto_pad(string autoPad, int stride)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 4, 5]);
        var w = k.Input("w", [3, 2, 4, 3]);
        k.Output(k.Builder.Op("ConvTranspose", [x, w], Attr.Ints("strides", [stride, stride]), Attr.String("auto_pad", autoPad)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 9, 10 })]
    [TestCase(new long[] { 8, 9 })]
    public void ConvTranspose_output_shape(long[] outputShape)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 4, 5]);
        var w = k.Input("w", [3, 2, 3, 3]);
        k.Output(k.Builder.Op("ConvTranspose", [x, w], Attr.Ints("strides", [2, 2]), Attr.Ints("output_shape", outputShape)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void ConvTranspose1d()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 6]);
        var w = k.Input("w", [3, 2, 4]);
        k.Output(k.Builder.Op("ConvTranspose", [x, w], Attr.Ints("strides", [3]), Attr.Ints("pads", [1, 2])));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
