using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Softmax and LogSoftmax. From opset 13 they normalise over one axis (default −1);
/// before, over every axis from <c>axis</c> (default 1) on, as if flattened to 2-D.</summary>
internal static class SoftmaxGradients
{
    public static void Register(GradientRegistry r)
    {
        // dX = Y·(dY − Σ_axis(dY·Y))
        r.Add("Softmax", c =>
        {
            var y = c.O(0);
            var dY = c.GO(0)!;
            var sum = c.B.ReduceSum(c.B.Mul(dY, y), Axes(c), keepDims: true);
            c.SetGI(0, c.B.Mul(y, c.B.Sub(dY, sum)));
        });
        // dX = dY − exp(Y)·Σ_axis dY
        r.Add("LogSoftmax", c =>
        {
            var dY = c.GO(0)!;
            var sum = c.B.ReduceSum(dY, Axes(c), keepDims: true);
            c.SetGI(0, c.B.Sub(dY, c.B.Mul(c.B.Op("Exp", c.O(0)), sum)));
        });
    }

    private static long[] Axes(GradientContext c)
    {
        var rank = c.RankOf(c.I(0));
        var axis = c.Node.GetInt("axis", c.Opset >= 13 ? -1 : 1);
        if (axis < 0) axis += rank;
        return c.Opset >= 13 ? [axis] : Enumerable.Range((int)axis, rank - (int)axis).Select(a => (long)a).ToArray();
    }
}
