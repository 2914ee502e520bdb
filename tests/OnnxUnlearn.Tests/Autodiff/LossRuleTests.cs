using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss: every reduction,
/// class weights, ignore_index, extra dims and the optional log_prob output.</summary>
[TestFixture]
public class LossRuleTests
{
    private const double Tolerance = 2e-3;

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var op in new[] { "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss" })
            foreach (var reduction in new[] { "mean", "sum", "none" })
                foreach (var weighted in new[] { false, true })
                    foreach (var ignore in new[] { false, true })
                        yield return new TestCaseData(op, reduction, weighted, ignore);
    }

    [TestCaseSource(nameof(Cases))]
    public void Loss(string op, string reduction, bool weighted, bool ignore)
    {
        var k = new GradientChecker(13);
        var scores = k.Input("scores", [4, 3]);
        var labels = k.Constant(TensorData.FromInt64s("labels", [4], [2, 0, 1, 2]));
        var inputs = new List<Value?> { scores, labels };
        if (weighted) inputs.Add(k.Constant(TensorData.FromFloats("weights", [3], [0.5f, 1.5f, 2f])));
        var attributes = new List<Onnx.AttributeProto> { Attr.String("reduction", reduction) };
        if (ignore) attributes.Add(Attr.Int("ignore_index", 0));
        k.Output(k.Builder.Op(op, [.. inputs], [.. attributes]));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(13, "mean")]
    [TestCase(12, "mean")]
    [TestCase(13, "none")]
    public void SoftmaxCrossEntropy_with_extra_dims_and_log_prob(int opset, string reduction)
    {
        var k = new GradientChecker(opset);
        var scores = k.Input("scores", [2, 3, 4], -2, 2);
        var labels = k.Constant(TensorData.FromInt64s("labels", [2, 4], [0, 2, 1, 1, 2, 2, 0, -100]));
        var outputs = k.Builder.OpMulti("SoftmaxCrossEntropyLoss", [scores, labels], 2,
            Attr.String("reduction", reduction), Attr.Int("ignore_index", -100));
        k.Output(outputs[0]);
        k.Output(outputs[1]);
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void NegativeLogLikelihood_after_LogSoftmax_equals_cross_entropy_path()
    {
        var k = new GradientChecker(13);
        var scores = k.Input("scores", [5, 4]);
        var labels = k.Constant(TensorData.FromInt64s("labels", [5], [3, 1, 1, 0, 2]));
        var b = k.Builder;
        k.Output(b.Op("NegativeLogLikelihoodLoss", [b.Op("LogSoftmax", [scores], Attr.Int("axis", 1)), labels]));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
