using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of InstanceNormalization, LayerNormalization, MeanVarianceNormalization and LRN
/// (BatchNormalization is in CoreRuleTests).</summary>
[TestFixture]
public class NormalizationRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase(new long[] { 2, 3, 4, 5 })]
    [TestCase(new long[] { 3, 2, 7 })]
    public void InstanceNormalization(long[] dims)
    {
        var k = new GradientChecker();
        var x = k.Input("x", dims);
        var scale = k.Input("scale", [dims[1]], 0.5f, 1.5f);
        var bias = k.Input("bias", [dims[1]]);
        k.Output(k.Builder.Op("InstanceNormalization", [x, scale, bias], Attr.Float("epsilon", 1e-3f)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(-1, new long[] { 5 })]
    [TestCase(1, new long[] { 3, 5 })]
    [TestCase(1, new long[] { 1, 5 })]
    [TestCase(2, new long[] { 5 })]
    public void LayerNormalization_axis_and_broadcast_scale(int axis, long[] scaleDims)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 5]);
        var scale = k.Input("scale", scaleDims, 0.5f, 1.5f);
        var bias = k.Input("bias", scaleDims);
        k.Output(k.Builder.Op("LayerNormalization", [x, scale, bias], Attr.Int("axis", axis), Attr.Float("epsilon", 1e-3f)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void LayerNormalization_without_bias_and_with_used_statistics()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [4, 6]);
        var scale = k.Input("scale", [6], 0.5f, 1.5f);
        var outputs = k.Builder.OpMulti("LayerNormalization", [x, scale], 3, Attr.Float("epsilon", 1e-2f));
        var b = k.Builder;
        k.Output(b.Mul(outputs[0], outputs[0]));
        k.Output(outputs[1]);
        k.Output(outputs[2]);
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13, null)]
    [TestCase(13, new long[] { 2, 3 })]
    [TestCase(13, new long[] { 1 })]
    [TestCase(18, new long[] { -1, 0 })]
    public void MeanVarianceNormalization_axes(int opset, long[]? axes)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [3, 2, 4, 5]);
        var y = k.Builder.Op("MeanVarianceNormalization", [x], axes is null ? [] : [Attr.Ints("axes", axes)]);
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(5)]
    public void LRN_window_sizes(int size)
    {
        var k = new GradientChecker(13);
        var x = k.Input("x", [2, 7, 3, 2], -2, 2);
        k.Output(k.Builder.Op("LRN", [x], Attr.Int("size", size), Attr.Float("alpha", 0.3f), Attr.Float("beta", 0.6f), Attr.Float("bias", 1.5f)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
