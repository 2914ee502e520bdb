using OnnxUnlearn.Ir;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Training.Losses;

/// <summary>Loss settings: label smoothing ε and optional per-class weights (PyTorch semantics).</summary>
public sealed record LossOptions(float LabelSmoothing = 0, float[]? ClassWeights = null);

/// <summary>
/// Mean softmax cross-entropy on logits z [N, K] with integer labels y [N], emitted together with
/// its gradient in closed form (the backward walk starts from dL/dz):
///   q = (1 − ε)·onehot(y) + ε/K,  ℓᵢ = −Σₖ qₖ·log softmax(zᵢ)ₖ,  L = Σᵢ w_{yᵢ}·ℓᵢ / Σᵢ w_{yᵢ}
///   dL/dzᵢ = w_{yᵢ}·(softmax(zᵢ) − qᵢ) / Σᵢ w_{yᵢ}        (w ≡ 1 without class weights)
/// </summary>
internal static class CrossEntropy
{
    public static (Value Loss, Value LogitsGradient) Emit(GraphBuilder b, Value logits, Value labels, int classCount, LossOptions options)
    {
        var logProbs = b.Op("LogSoftmax", [logits], Attr.Int("axis", 1));
        var smoothing = options.LabelSmoothing;
        var target = b.OneHot(labels, b.Ints(classCount), smoothing / classCount, 1 - smoothing + smoothing / classCount);
        var perSample = b.Neg(b.ReduceSum(b.Mul(target, logProbs), [1], keepDims: false));
        Value weights, total;
        if (options.ClassWeights is { } w)
        {
            weights = b.Op("Gather", [b.Floats([w.Length], w), labels], Attr.Int("axis", 0));
            total = b.ReduceSum(weights, [0], keepDims: false);
        }
        else
        {
            weights = b.Scalar(1);
            total = b.Cast(b.Op("Size", labels), DataType.Float);
        }
        var loss = b.Div(b.ReduceSum(b.Mul(perSample, weights), [0], keepDims: false), total);
        var rowScale = options.ClassWeights is null ? b.Div(b.Scalar(1), total) : b.Unsqueeze(b.Div(weights, total), 1);
        var gradient = b.Mul(b.Sub(b.Op("Exp", logProbs), target), rowScale);
        return (loss, gradient);
    }
}
