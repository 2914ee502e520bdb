using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of Einsum: products, transposes, sums over one operand's own subscripts,
/// three operands, ellipses and implicit outputs.</summary>
[TestFixture]
public class EinsumRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase("ij,jk->ik", new long[] { 3, 4 }, new long[] { 4, 5 })]
    [TestCase("bhid,bhjd->bhij", new long[] { 2, 2, 3, 4 }, new long[] { 2, 2, 5, 4 })]
    [TestCase("...ij,...jk->...ik", new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 })]
    [TestCase("ij,jk", new long[] { 3, 4 }, new long[] { 4, 2 })]
    [TestCase("ij,k->ik", new long[] { 3, 4 }, new long[] { 5 })]
    [TestCase("i,j->ij", new long[] { 3 }, new long[] { 4 })]
    [TestCase("bij,bj->bi", new long[] { 2, 3, 4 }, new long[] { 2, 4 })]
    public void Two_operands(string equation, long[] a, long[] b)
    {
        var k = new GradientChecker(13);
        var y = k.Builder.Op("Einsum", [k.Input("a", a), k.Input("b", b)], Attr.String("equation", equation));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("ij->ji", new long[] { 3, 4 })]
    [TestCase("ijk->ik", new long[] { 2, 3, 4 })]
    [TestCase("ij->", new long[] { 3, 4 })]
    [TestCase("...j->...", new long[] { 2, 3, 4 })]
    public void One_operand(string equation, long[] a)
    {
        var k = new GradientChecker(13);
        var y = k.Builder.Op("Einsum", [k.Input("a", a)], Attr.String("equation", equation));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Three_operands()
    {
        var k = new GradientChecker(13);
        var y = k.Builder.Op("Einsum", [k.Input("a", [2, 3]), k.Input("b", [3, 4]), k.Input("c", [4, 2])], Attr.String("equation", "ij,jk,kl->il"));
        k.Output(k.Builder.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }
}
