using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of the pointwise activations, inputs kept away from their kinks.</summary>
[TestFixture]
public class ActivationRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase("HardSigmoid", 0.2f, 0.5f)]
    [TestCase("HardSigmoid", 0.5f, 0.1f)]
    public void HardSigmoid_inside_and_saturated(string op, float alpha, float beta)
    {
        var k = new GradientChecker();
        // kinks where α·x + β hits 0 and 1
        var x = k.InputAvoiding("x", [3, 4, 5], -5, 5, [-beta / alpha, (1 - beta) / alpha]);
        k.Output(k.Builder.Op(op, [x], Attr.Float("alpha", alpha), Attr.Float("beta", beta)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [Test]
    public void HardSwish()
    {
        var k = new GradientChecker(14);
        var x = k.InputAvoiding("x", [2, 3, 4, 5], -5, 5, [-3, 3]);
        k.Output(k.Builder.Op("HardSwish", x));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 2, 3, 4, 4 }, new long[] { 3, 1, 1 })]
    [TestCase(new long[] { 2, 3, 4, 4 }, new long[] { 1 })]
    [TestCase(new long[] { 4, 5 }, new long[] { 5 })]
    [TestCase(new long[] { 4, 5 }, new long[] { 4, 5 })]
    public void PRelu_with_broadcast_slope(long[] xDims, long[] slopeDims)
    {
        var k = new GradientChecker();
        var x = k.Input("x", xDims, -2, 2, awayFromZero: 0.05f);
        var slope = k.Input("slope", slopeDims, 0.05f, 0.5f);
        k.Output(k.Builder.Op("PRelu", x, slope));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase("Elu", 1.0f)]
    [TestCase("Elu", 0.4f)]
    [TestCase("Celu", 1.0f)]
    [TestCase("Celu", 2.5f)]
    [TestCase("ThresholdedRelu", 0.7f)]
    public void Alpha_activations(string op, float alpha)
    {
        var k = new GradientChecker(op == "Celu" ? 12 : 17);
        var x = k.InputAvoiding("x", [3, 7], -3, 3, [0, alpha]);
        k.Output(k.Builder.Op(op, [x], Attr.Float("alpha", alpha)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance), op);
    }

    [Test]
    public void Selu_default_and_custom()
    {
        var k = new GradientChecker();
        var x = k.InputAvoiding("x", [4, 6], -3, 3, [0]);
        k.Output(k.Builder.Op("Selu", x));
        k.Output(k.Builder.Op("Selu", [x], Attr.Float("alpha", 1.3f), Attr.Float("gamma", 0.8f)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase("Softplus")]
    [TestCase("Softsign")]
    public void Smooth_activations(string op)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 5], -4, 4, awayFromZero: op == "Softsign" ? 0.05f : 0);
        k.Output(k.Builder.Op(op, x));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [Test]
    public void Mish()
    {
        var k = new GradientChecker(18);
        k.Output(k.Builder.Op("Mish", k.Input("x", [3, 8], -4, 4)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase("none")]
    [TestCase("tanh")]
    public void Gelu_opset20(string approximate)
    {
        var k = new GradientChecker(20);
        k.Output(k.Builder.Op("Gelu", [k.Input("x", [2, 4, 6], -4, 4)], Attr.String("approximate", approximate)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [Test]
    public void SiLU_as_sigmoid_gated_mul()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [3, 5], -4, 4);
        k.Output(k.Builder.Mul(x, k.Builder.Op("Sigmoid", x)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase("Tan", -1.2f, 1.2f)]
    [TestCase("Atan", -3f, 3f)]
    [TestCase("Asin", -0.9f, 0.9f)]
    [TestCase("Acos", -0.9f, 0.9f)]
    [TestCase("Sinh", -2f, 2f)]
    [TestCase("Cosh", -2f, 2f)]
    [TestCase("Asinh", -3f, 3f)]
    [TestCase("Acosh", 1.2f, 3f)]
    [TestCase("Atanh", -0.9f, 0.9f)]
    public void Trigonometric_and_hyperbolic(string op, float low, float high)
    {
        var k = new GradientChecker(13);
        k.Output(k.Builder.Op(op, k.Input("x", [3, 5], low, high)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }
}
