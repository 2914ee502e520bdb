using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Training;

/// <summary>
/// Fresh weights the way PyTorch initialises its layers by default, for training from scratch
/// (the "retrain without the forgotten classes" baseline):
///   Conv/ConvTranspose/Gemm/MatMul weights: kaiming_uniform(a = √5) = U(−1/√fan_in, 1/√fan_in);
///   their biases (Conv/Gemm bias inputs, and an Add right after a MatMul): U(−1/√fan_in, 1/√fan_in);
///   BatchNormalization/LayerNormalization/InstanceNormalization: γ = 1, β = 0, running mean 0, var 1;
///   any other floating-point weight (embeddings, ...): N(0, 1).
/// </summary>
public static class Reinitializer
{
    public static Dictionary<string, float[]> Initialize(Model model, int seed)
    {
        var random = new Random(seed);
        var values = new Dictionary<string, float[]>();
        foreach (var value in model.Graph.Initializers.Where(v => v.Initializer!.IsFloatingPoint && v.Initializer.ElementCount > 1))
        {
            var data = value.Initializer!;
            var count = checked((int)data.ElementCount);
            var use = value.Uses.FirstOrDefault();
            float[]? initial = use.Node?.OpType switch
            {
                "BatchNormalization" => Fill(count, use.InputIndex is 1 or 4 ? 1f : 0f),
                "LayerNormalization" or "InstanceNormalization" => Fill(count, use.InputIndex == 1 ? 1f : 0f),
                "Conv" or "ConvTranspose" or "Gemm" or "MatMul" or "Add" => FanIn(use.Node, use.InputIndex, value, model.Graph) is { } fanIn
                    ? RandomValues.Uniform(random, count, 1 / Math.Sqrt(fanIn))
                    : null,
                _ => null,
            };
            values[value.Name] = initial ?? RandomValues.Normal(random, count);
        }
        return values;
    }

    /// <summary>fan_in of the layer a weight or bias belongs to, or null when it is no layer parameter.</summary>
    private static long? FanIn(Node node, int inputIndex, Value value, Graph graph)
    {
        switch (node.OpType)
        {
            case "Conv":
            {
                var weight = node.Inputs[1]!.Initializer;
                return weight is null ? null : weight.Dims.Skip(1).Aggregate(1L, (a, b) => a * b);
            }
            case "ConvTranspose":
            {
                var weight = node.Inputs[1]!.Initializer;
                return weight is null ? null : weight.Dims[0] / node.GetInt("group", 1) * weight.Dims.Skip(2).Aggregate(1L, (a, b) => a * b);
            }
            case "Gemm":
            {
                var weight = node.Inputs[1]!.Initializer;
                if (weight is null || inputIndex == 0) return null;
                return node.GetInt("transB", 0) != 0 ? weight.Dims[1] : weight.Dims[0];
            }
            case "MatMul":
                return inputIndex == 1 && value.Initializer!.Dims.Length == 2 ? value.Initializer.Dims[0] : null;
            case "Add":
            {
                var other = node.Inputs[1 - inputIndex];
                return other?.Producer is { OpType: "MatMul" } matmul && matmul.Inputs[1]?.Initializer is { Dims.Length: 2 } w ? w.Dims[0] : null;
            }
            default:
                return null;
        }
    }

    private static float[] Fill(int count, float value) => Enumerable.Repeat(value, count).ToArray();
}
