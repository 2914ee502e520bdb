using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Tests;

/// <summary>Small random classifiers built with the IR, for tests that need no model file.</summary>
public static class ModelFactory
{
    /// <summary>
    /// Conv(1→4, 3×3, pad 1) → BatchNormalization → Relu → MaxPool 2×2 → Conv(4→6, 3×3, stride 2)
    /// → Relu → GlobalAveragePool → Flatten → Gemm(6→classes); input [N, 1, 8, 8], output "logits".
    /// With <paramref name="softmaxHead"/> a trailing Softmax gives "probs" instead.
    /// </summary>
    public static Model SmallCnn(int classes = 3, int opset = 13, int seed = 0, bool softmaxHead = false, bool batchNorm = true)
    {
        var random = new Random(seed);
        var graph = new Graph("small_cnn");
        var b = new GraphBuilder(graph, opset, "net");
        var x = graph.AddInput("input", TensorTypes.Float(-1, 1, 8, 8));
        Value Weight(string name, params long[] dims) => graph.AddInitializer(TensorData.FromFloats(name, dims, Uniform(random, dims, 1.0 / Math.Sqrt(dims.Skip(1).Aggregate(1L, (p, q) => p * q)))));
        var h = b.Op("Conv", [x, Weight("conv1.weight", 4, 1, 3, 3), Weight("conv1.bias", 4)], Attr.Ints("pads", [1, 1, 1, 1]));
        if (batchNorm)
        {
            var scale = graph.AddInitializer(TensorData.FromFloats("bn1.weight", [4], [1.1f, 0.9f, 1.0f, 1.2f]));
            var bias = graph.AddInitializer(TensorData.FromFloats("bn1.bias", [4], [0.1f, -0.1f, 0.0f, 0.2f]));
            var mean = graph.AddInitializer(TensorData.FromFloats("bn1.running_mean", [4], [0.05f, -0.02f, 0.01f, 0f]));
            var variance = graph.AddInitializer(TensorData.FromFloats("bn1.running_var", [4], [0.3f, 0.4f, 0.5f, 0.6f]));
            h = b.Op("BatchNormalization", [h, scale, bias, mean, variance], Attr.Float("epsilon", 1e-5f), Attr.Float("momentum", 0.9f));
        }
        h = b.Op("Relu", h);
        h = b.Op("MaxPool", [h], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]));
        h = b.Op("Conv", [h, Weight("conv2.weight", 6, 4, 3, 3), Weight("conv2.bias", 6)], Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 1, 1]));
        h = b.Op("Relu", h);
        h = b.Op("Flatten", b.Op("GlobalAveragePool", h));
        var logits = graph.AddNode("Gemm", [h, Weight("fc.weight", classes, 6), Weight("fc.bias", classes)], 1, [Attr.Int("transB", 1)], "fc",
            outputNames: [softmaxHead ? "logits" : "logits"]).Outputs[0];
        if (softmaxHead)
        {
            var probs = graph.AddNode("Softmax", [logits], 1, [Attr.Int("axis", 1)], "softmax", outputNames: ["probs"]).Outputs[0];
            probs.Type = TensorTypes.Float(-1, classes);
            graph.Outputs.Add(probs);
        }
        else
        {
            logits.Type = TensorTypes.Float(-1, classes);
            graph.Outputs.Add(logits);
        }
        var header = new ModelProto { IrVersion = 8, ProducerName = "OnnxUnlearn.Tests" };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return new Model(header, graph);
    }

    /// <summary>Random inputs [n, 1, 8, 8] and labels in [0, classes).</summary>
    public static (float[] X, long[] Y) Batch(int n, int classes, int seed)
    {
        var random = new Random(seed);
        var x = Uniform(random, [n, 1, 8, 8], 1.0);
        var y = Enumerable.Range(0, n).Select(_ => (long)random.Next(classes)).ToArray();
        return (x, y);
    }

    private static float[] Uniform(Random random, long[] dims, double bound)
    {
        var values = new float[dims.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }
}
