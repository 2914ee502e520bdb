using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Unlearning;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>The checks every exporter's graph goes through: a numeric gradient check of the whole
/// model, a tiny UNSIR run, and an export that must keep the original interface and nodes.</summary>
internal static class CoverageChecks
{
    /// <summary>Tiny UNSIR settings: seconds on the small graphs, one round.</summary>
    public static readonly UnsirSettings TinyUnsir = new()
    {
        NoiseBatch = 16, MinNoisePerClass = 8, NoiseSteps = 2, NoiseCopies = 1, RetainPerClass = 8, BatchSize = 16, MaxRounds = 1, Seed = 3,
    };

    /// <summary>
    /// Compares the gradient of the mean cross-entropy that our training graph computes
    /// (<see cref="GradientComputer"/>, BatchNorm frozen as at inference) with central differences
    /// of the same loss taken from the UNCHANGED model run by ONNX Runtime (−log of its softmax
    /// output), for every trained weight and the input, along random sparse directions (a few
    /// coordinates each). A direction whose ±ε steps flip the sign of any Relu input or move the
    /// maximum of any MaxPool window crosses a kink, and is drawn again with half as many
    /// coordinates (a conv kernel element reaches every position of its channel). Returns the worst relative error (relative to the larger derivative, at
    /// least 0.01).
    /// </summary>
    public static double WholeModelGradientError(Model model, int batch = 4, int seed = 5, double epsilon = 1e-3, int directions = 3, int coordinates = 8)
    {
        var info = ClassifierInfo.Analyze(model, "model");
        Assert.That(info.Head, Is.EqualTo(HeadKind.Softmax), "the numeric loss is taken from the softmax output");
        var shapes = ShapeProbe.Run(model, info);
        var random = new Random(seed);
        var x = Normal(random, batch * info.Input.SampleSize);
        var y = Enumerable.Range(0, batch).Select(i => (long)(i % info.ClassCount)).ToArray();
        var weights = GradientComputer.Compute(model, shapes, x, y, BatchNormMode.Frozen, withRespectToInput: false, Device.Cpu(1));
        var input = GradientComputer.Compute(model, shapes, x, y, BatchNormMode.Frozen, withRespectToInput: true, Device.Cpu(1));
        Assert.That(weights.Gradients.Keys, Is.EquivalentTo(model.Graph.Initializers
            .Where(v => v.Initializer!.IsFloatingPoint && !v.Uses.Any(u => u.Node.OpType == "BatchNormalization" && u.InputIndex >= 3))
            .Select(v => v.Name)), "every weight gets a gradient");

        // The model with every float initializer also a graph input (ONNX Runtime lets a feed
        // override it), every Relu input and MaxPool's argmax (Indices) an output (to see kinks crossed).
        var proto = model.ToProto();
        foreach (var t in proto.Graph.Initializer.Where(t => weights.Gradients.ContainsKey(t.Name)))
            proto.Graph.Input.Add(new ValueInfoProto { Name = t.Name, Type = TensorTypes.Float([.. t.Dims]) });
        var kinks = proto.Graph.Node.Where(n => n.OpType == "Relu").Select(n => n.Input[0]).ToList();
        foreach (var pool in proto.Graph.Node.Where(n => n.OpType == "MaxPool" && n.Output.Count == 1))
        {
            pool.Output.Add(pool.Name + "/kink_indices");
            kinks.Add(pool.Name + "/kink_indices");
        }
        proto.Graph.Output.AddRange(kinks.Select(name => new ValueInfoProto { Name = name }));
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(proto.ToByteArray(), options);
        long[] inputDims = [batch, .. info.Input.SampleDims.Select(d => (long)d)];

        (double Loss, long[] Kinks) Run(string name, float[] values)
        {
            var feeds = new Dictionary<string, OrtValue> { [info.Input.Name] = OrtValue.CreateTensorValueFromMemory(name == info.Input.Name ? values : x, inputDims) };
            if (name != info.Input.Name)
                feeds[name] = OrtValue.CreateTensorValueFromMemory(values, weights.Gradients[name].Dims);
            try
            {
                using var runOptions = new RunOptions();
                using var results = session.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), [info.Output.Name, .. kinks]);
                var p = results[0].GetTensorDataAsSpan<float>();
                double sum = 0;
                for (var i = 0; i < batch; i++) sum -= Math.Log(p[i * info.ClassCount + (int)y[i]]);
                var pattern = results.Skip(1).SelectMany(r => r.GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64
                    ? r.GetTensorDataAsSpan<long>().ToArray()
                    : r.GetTensorDataAsSpan<float>().ToArray().Select(v => v > 0 ? 1L : 0L)).ToArray();
                return (sum / batch, pattern);
            }
            finally
            {
                foreach (var v in feeds.Values) v.Dispose();
            }
        }

        var checks = weights.Gradients.Select(g => (g.Key, Value: model.Graph[g.Key].Initializer!.ToFloatArray(), Gradient: g.Value.Values))
            .Append((info.Input.Name, x, input.Gradients[info.Input.Name].Values));
        double worst = 0;
        foreach (var (name, value, gradient) in checks)
            for (var d = 0; d < directions; d++)
            {
                for (var attempt = 0; ; attempt++)
                {
                    Assert.That(attempt, Is.LessThan(30), $"'{name}': every direction crosses a kink");
                    var v = new float[value.Length];
                    foreach (var i in Enumerable.Range(0, Math.Max(1, coordinates >> attempt)).Select(_ => random.Next(value.Length)))
                        v[i] = (float)(random.NextDouble() + 0.5) * (random.Next(2) * 2 - 1);
                    var (plus, plusKinks) = Run(name, Shift(value, v, epsilon));
                    var (minus, minusKinks) = Run(name, Shift(value, v, -epsilon));
                    if (!plusKinks.SequenceEqual(minusKinks)) continue;
                    var predicted = gradient.Zip(v, (g, e) => (double)g * e).Sum();
                    var numeric = (plus - minus) / (2 * epsilon);
                    var error = Math.Abs(numeric - predicted) / Math.Max(1e-2, Math.Max(Math.Abs(numeric), Math.Abs(predicted)));
                    TestContext.Out.WriteLine($"{name}: analytic {predicted:G6} numeric {numeric:G6} rel.err {error:G3}");
                    worst = Math.Max(worst, error);
                    break;
                }
            }
        return worst;
    }

    /// <summary>Random samples in the model's own layout, labels cycling through the classes.</summary>
    public static InMemoryDataset Data(ClassifierInfo info, int count, int seed)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, count).Select(i => i % info.ClassCount).ToArray();
        return new InMemoryDataset(Normal(random, count * info.Input.SampleSize), labels, info.Input, "synthetic");
    }

    /// <summary>Runs tiny UNSIR (forgetting class 0) and returns the trained initializers.</summary>
    public static Dictionary<string, float[]> Forget(Model model)
    {
        var info = ClassifierInfo.Analyze(model, "model");
        ModelInspector.CheckTrainability(model, info).ThrowIfBlocked("model");
        using var data = Data(info, 16 * info.ClassCount, seed: 9);
        var result = UnsirUnlearner.Run(model, info, ShapeProbe.Run(model, info), data, [0], TinyUnsir, Device.Cpu(1));
        Assert.That(result.Losses.Values.SelectMany(l => l), Is.All.Matches<float>(float.IsFinite));
        return result.Initializers;
    }

    /// <summary>
    /// Writes the trained weights into the model saved at <paramref name="source"/> as the CLI does,
    /// then checks the written model: the same nodes, graph inputs, outputs, value_info and opsets;
    /// the same initializers (names, dims, element types), trained ones with new values; and a fresh
    /// ONNX Runtime session sees the same input and output names, shapes and element types.
    /// Returns the written path.
    /// </summary>
    public static string ExportAndCheck(string source, Dictionary<string, float[]> trained, string output)
    {
        var original = ModelFile.LoadProto(source);
        ModelExporter.Write(ModelExporter.ForExport(original, trained), source, output);
        var written = ModelFile.LoadProto(output);
        Assert.Multiple(() =>
        {
            Assert.That(written.Graph.Node, Is.EqualTo(original.Graph.Node), "nodes");
            Assert.That(written.Graph.Input, Is.EqualTo(original.Graph.Input), "graph inputs");
            Assert.That(written.Graph.Output, Is.EqualTo(original.Graph.Output), "graph outputs");
            Assert.That(written.Graph.ValueInfo, Is.EqualTo(original.Graph.ValueInfo), "value_info");
            Assert.That(written.OpsetImport, Is.EqualTo(original.OpsetImport), "opsets");
            Assert.That(written.IrVersion, Is.EqualTo(original.IrVersion));
            Assert.That(written.Graph.Initializer.Select(t => (t.Name, t.DataType, string.Join(",", t.Dims))),
                Is.EqualTo(original.Graph.Initializer.Select(t => (t.Name, t.DataType, string.Join(",", t.Dims)))), "initializers");
        });
        var before = Model.FromProto(original, source).Graph;
        var after = Model.FromProto(written, output).Graph;
        var changed = trained.Keys.Count(name => !after[name].Initializer!.ToFloatArray().SequenceEqual(before[name].Initializer!.ToFloatArray()));
        Assert.That(changed, Is.GreaterThan(trained.Count / 2), "trained weights were written");

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var a = new InferenceSession(source, options);
        using var b = new InferenceSession(output, options);
        Assert.That(Describe(b.InputMetadata), Is.EqualTo(Describe(a.InputMetadata)), "session inputs");
        Assert.That(Describe(b.OutputMetadata), Is.EqualTo(Describe(a.OutputMetadata)), "session outputs");
        return output;
    }

    private static string[] Describe(IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. metadata.Select(m => $"{m.Key} {m.Value.ElementDataType} [{string.Join(",", m.Value.Dimensions)}] [{string.Join(",", m.Value.SymbolicDimensions)}]")];

    public static float[] Normal(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return values;
    }

    private static float[] Shift(float[] x, float[] v, double epsilon)
    {
        var y = new float[x.Length];
        for (var i = 0; i < x.Length; i++) y[i] = (float)(x[i] + epsilon * v[i]);
        return y;
    }
}
