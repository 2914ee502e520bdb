using OnnxUnlearn.Ir;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// The loss ops (opset 12/13): SoftmaxCrossEntropyLoss on scores and NegativeLogLikelihoodLoss on
/// log-probabilities, scores [N, C, d...], labels [N, d...], optional class weights [C].
/// Per element i: loss_i = −w_{y_i}·logp[i, y_i] (0 where y_i = ignore_index); reduction none keeps
/// them, sum adds them, mean divides the sum by Σ_i w_{y_i} (the count of counted elements
/// without weights). Labels and weights get no gradient.
/// </summary>
internal static class LossGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("SoftmaxCrossEntropyLoss", SoftmaxCrossEntropyLoss, CheckReduction);
        r.Add("NegativeLogLikelihoodLoss", NegativeLogLikelihoodLoss, CheckReduction);
    }

    private static string? CheckReduction(Node node, int opset) =>
        node.GetString("reduction", "mean") is "mean" or "sum" or "none"
            ? null
            : $"reduction '{node.GetString("reduction", "mean")}' is not a known reduction";

    // dScores = (softmax(scores) − OneHot(y))·coef_i, coef_i = dLoss_i·w_{y_i} (÷ Σw for mean)
    //         + dLogProb − softmax·Σ_c dLogProb   (when the optional log_prob output is used)
    private static void SoftmaxCrossEntropyLoss(GradientContext c)
    {
        var b = c.B;
        var scores = c.I(0);
        var logProb = c.Node.Outputs.Count > 1 && c.O(1).Name.Length > 0 ? c.O(1) : null;
        Value probabilities;
        if (logProb is not null)
        {
            probabilities = b.Op("Exp", logProb);
        }
        else
        {
            // softmax over axis 1 for any rank (Softmax before opset 13 flattens the trailing axes)
            var shifted = b.Op("Exp", b.Sub(scores, b.Reduce("ReduceMax", scores, [1], keepDims: true)));
            probabilities = b.Div(shifted, b.ReduceSum(shifted, [1], keepDims: true));
        }
        Value? grad = null;
        if (c.GO(0) is not null)
        {
            var (oneHot, coef) = OneHotAndCoefficient(c);
            grad = b.Mul(b.Sub(probabilities, oneHot), coef);
        }
        if (c.GO(1) is { } dLogProb)
        {
            var viaLogProb = b.Sub(dLogProb, b.Mul(probabilities, b.ReduceSum(dLogProb, [1], keepDims: true)));
            grad = grad is null ? viaLogProb : b.Add(grad, viaLogProb);
        }
        c.SetGI(0, grad!);
    }

    // dInput = −OneHot(y)·coef_i
    private static void NegativeLogLikelihoodLoss(GradientContext c)
    {
        var (oneHot, coef) = OneHotAndCoefficient(c);
        c.SetGI(0, c.B.Neg(c.B.Mul(oneHot, coef)));
    }

    /// <summary>OneHot(labels) as [N, C, d...] and the per-element coefficient as [N, 1, d...].</summary>
    private static (Value OneHot, Value Coefficient) OneHotAndCoefficient(GradientContext c)
    {
        var b = c.B;
        if (c.HasInput(2) && c.Needs(2))
            throw new UserInputException($"{c.Node.Describe()}: gradients with respect to the class weights are not supported");
        var labels = RuleHelpers.AsInt64(b, c.I(1));
        var classes = b.Slice(b.Shape(c.I(0)), [1], [2], [0]);
        var ignoreIndex = c.Node.Attribute("ignore_index") is { } a ? a.I : (long?)null;
        Value? counted = null;
        if (ignoreIndex is { } ignored)
        {
            counted = b.Op("Not", b.Op("Equal", labels, b.IntScalar(ignored)));
            labels = b.Where(counted, labels, b.IntScalar(0));
        }
        var oneHot = b.Op("OneHot", [labels, classes, b.Floats([2], [0f, 1f])], Attr.Int("axis", 1));

        // weight of each element: w_{y_i}, times 0 where ignored
        Value? weight = c.HasInput(2) ? b.Op("Gather", [c.I(2), labels], Attr.Int("axis", 0)) : null;
        if (counted is not null)
        {
            var mask = b.Cast(counted, DataType.Float);
            weight = weight is null ? mask : b.Mul(weight, mask);
        }

        var dLoss = c.GO(0)!;
        var rank = c.RankOf(c.I(1));
        var all = Enumerable.Range(0, rank).Select(x => (long)x).ToArray();
        Value coef;
        switch (c.Node.GetString("reduction", "mean"))
        {
            case "none":
                coef = weight is null ? dLoss : b.Mul(dLoss, weight);
                break;
            case "sum":
                coef = weight is null ? b.ExpandLike(dLoss, labels) : b.Mul(dLoss, weight);
                break;
            default:
                var total = weight is null
                    ? b.Cast(b.Op("Size", labels), DataType.Float)
                    : b.ReduceSum(weight, all, keepDims: false);
                var perUnit = b.Div(dLoss, total);
                coef = weight is null ? b.ExpandLike(perUnit, labels) : b.Mul(perUnit, weight);
                break;
        }
        return (oneHot, b.Unsqueeze(coef, 1));
    }
}
