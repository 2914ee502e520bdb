using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of the reductions beyond ReduceSum/ReduceMean, with the axes as an
/// attribute (opset 13) and as an input (opset 18), keepdims on and off.</summary>
[TestFixture]
public class ReductionRuleTests
{
    private const double Tolerance = 2e-3;

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var op in new[] { "ReduceMax", "ReduceMin", "ReduceL2", "ReduceL1", "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum", "ReduceProd" })
            foreach (var opset in new[] { 13, 18 })
                foreach (var keepDims in new[] { true, false })
                    yield return new TestCaseData(op, opset, keepDims);
    }

    [TestCaseSource(nameof(Cases))]
    public void Reduce(string op, int opset, bool keepDims)
    {
        var k = new GradientChecker(opset);
        var x = op switch
        {
            "ReduceMax" or "ReduceMin" => k.DistinctInput("x", [2, 3, 4]),
            "ReduceLogSum" or "ReduceProd" => k.Input("x", [2, 3, 4], 0.5f, 1.5f),
            _ => k.Input("x", [2, 3, 4], awayFromZero: 0.1f),
        };
        var b = k.Builder;
        k.Output(b.Reduce(op, x, [0, -1], keepDims));
        k.Output(b.Reduce(op, x, [1], keepDims));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [Test]
    public void Reduce_over_all_axes_by_default()
    {
        var k = new GradientChecker(13);
        var x = k.DistinctInput("x", [3, 4]);
        k.Output(k.Builder.Op("ReduceMax", [x], Attr.Int("keepdims", 0)));
        k.Output(k.Builder.Op("ReduceLogSumExp", x));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase(0, 0)]
    [TestCase(1, 0)]
    [TestCase(0, 1)]
    [TestCase(1, 1)]
    public void CumSum(int exclusive, int reverse)
    {
        var k = new GradientChecker(14);
        var x = k.Input("x", [3, 5]);
        var b = k.Builder;
        var y = b.Op("CumSum", [x, b.IntScalar(1)], Attr.Int("exclusive", exclusive), Attr.Int("reverse", reverse));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
