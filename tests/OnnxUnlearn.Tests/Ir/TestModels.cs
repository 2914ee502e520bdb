using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Tests.Ir;

/// <summary>
/// Small classifiers built with the IR (random weights, fixed seeds) for tests that need a model
/// file, and helpers to run them with ONNX Runtime.
/// </summary>
public static class TestModels
{
    public const int Opset = 17;

    public static ModelProto Header(int opset = Opset)
    {
        var header = new ModelProto { IrVersion = 8, ProducerName = "onnxunlearn-tests", ProducerVersion = "1" };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return header;
    }

    /// <summary>An MLP [N, features] → Gemm → Relu → Gemm → [N, classes], with an optional Softmax head.</summary>
    public static Model Mlp(int features = 4, int hidden = 8, int classes = 3, bool softmax = false, long batch = -1, int seed = 1)
    {
        var random = new Random(seed);
        var graph = new Graph("mlp");
        var x = graph.AddInput("input", TensorTypes.Float(batch, features));
        var w1 = graph.AddInitializer(Floats("fc1.weight", random, hidden, features));
        var b1 = graph.AddInitializer(Floats("fc1.bias", random, hidden));
        var w2 = graph.AddInitializer(Floats("fc2.weight", random, classes, hidden));
        var b2 = graph.AddInitializer(Floats("fc2.bias", random, classes));
        var h = graph.AddNode("Gemm", [x, w1, b1], attributes: [Attr.Int("transB", 1)], name: "fc1").Outputs[0];
        var r = graph.AddNode("Relu", [h], name: "relu").Outputs[0];
        var logits = graph.AddNode("Gemm", [r, w2, b2], attributes: [Attr.Int("transB", 1)], name: "fc2",
            outputNames: softmax ? null : ["logits"]).Outputs[0];
        var output = softmax ? graph.AddNode("Softmax", [logits], attributes: [Attr.Int("axis", 1)], name: "softmax", outputNames: ["probs"]).Outputs[0] : logits;
        output.Type = TensorTypes.Float(batch, classes);
        graph.Outputs.Add(output);
        return new Model(Header(), graph);
    }

    /// <summary>A CNN [N, C, H, W] → Conv(3×3, pad 1) → BatchNormalization (optional) → Relu →
    /// MaxPool(2) → Flatten → Gemm → [N, classes].</summary>
    public static Model Cnn(int channels = 1, int size = 8, int filters = 4, int classes = 3, bool batchNorm = true, int seed = 2)
    {
        var random = new Random(seed);
        var graph = new Graph("cnn");
        var x = graph.AddInput("input", TensorTypes.Float(-1, channels, size, size));
        var w = graph.AddInitializer(Floats("conv.weight", random, filters, channels, 3, 3));
        var b = graph.AddInitializer(Floats("conv.bias", random, filters));
        var y = graph.AddNode("Conv", [x, w, b], attributes: [Attr.Ints("pads", [1, 1, 1, 1]), Attr.Ints("kernel_shape", [3, 3])], name: "conv").Outputs[0];
        if (batchNorm)
        {
            var scale = graph.AddInitializer(Floats("bn.weight", random, filters, offset: 1));
            var bias = graph.AddInitializer(Floats("bn.bias", random, filters));
            var mean = graph.AddInitializer(Floats("bn.running_mean", random, filters));
            var variance = graph.AddInitializer(TensorData.FromFloats("bn.running_var", [filters], Enumerable.Range(0, filters).Select(i => 0.5f + 0.1f * i).ToArray()));
            y = graph.AddNode("BatchNormalization", [y, scale, bias, mean, variance], attributes: [Attr.Float("epsilon", 1e-5f)], name: "bn").Outputs[0];
        }
        y = graph.AddNode("Relu", [y], name: "relu").Outputs[0];
        y = graph.AddNode("MaxPool", [y], attributes: [Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2])], name: "pool").Outputs[0];
        y = graph.AddNode("Flatten", [y], attributes: [Attr.Int("axis", 1)], name: "flatten").Outputs[0];
        var features = filters * (size / 2) * (size / 2);
        var fw = graph.AddInitializer(Floats("fc.weight", random, classes, features));
        var fb = graph.AddInitializer(Floats("fc.bias", random, classes));
        var logits = graph.AddNode("Gemm", [y, fw, fb], attributes: [Attr.Int("transB", 1)], name: "fc", outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(-1, classes);
        graph.Outputs.Add(logits);
        return new Model(Header(), graph);
    }

    /// <summary>
    /// Conv(1→4, 3×3, pad 1) → BatchNormalization (optional) → Relu → MaxPool 2×2 → Conv(4→6, 3×3,
    /// stride 2) → Relu → GlobalAveragePool → Flatten → Gemm(6→classes); input [N, 1, 8, 8], output "logits".
    /// </summary>
    public static Model TwoConvCnn(int classes = 3, int opset = 13, int seed = 0, bool batchNorm = true)
    {
        var random = new Random(seed);
        var graph = new Graph("small_cnn");
        var b = new GraphBuilder(graph, opset, "net");
        var x = graph.AddInput("input", TensorTypes.Float(-1, 1, 8, 8));
        Value Weight(string name, params long[] dims) => graph.AddInitializer(TensorData.FromFloats(name, dims, UniformValues(random, dims, 1.0 / Math.Sqrt(dims.Skip(1).Aggregate(1L, (p, q) => p * q)))));
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
            outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(-1, classes);
        graph.Outputs.Add(logits);
        return new Model(Header(opset), graph);
    }

    /// <summary>Random inputs [n, 1, 8, 8] and labels in [0, classes).</summary>
    public static (float[] X, long[] Y) RandomBatch(int n, int classes, int seed)
    {
        var random = new Random(seed);
        var x = UniformValues(random, [n, 1, 8, 8], 1.0);
        var y = Enumerable.Range(0, n).Select(_ => (long)random.Next(classes)).ToArray();
        return (x, y);
    }

    private static float[] UniformValues(Random random, long[] dims, double bound)
    {
        var values = new float[dims.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }

    /// <summary>
    /// [N, classes] → Identity-weight MatMul → [N, classes]: the output is the input, so each
    /// sample's predicted class is the argmax of its own features. For accuracy tests.
    /// </summary>
    public static Model Passthrough(int classes = 3, long batch = -1, bool softmax = false)
    {
        var graph = new Graph("passthrough");
        var x = graph.AddInput("x", TensorTypes.Float(batch, classes));
        var eye = new float[classes * classes];
        for (var i = 0; i < classes; i++) eye[i * classes + i] = 1;
        var w = graph.AddInitializer(TensorData.FromFloats("eye", [classes, classes], eye));
        var y = graph.AddNode("MatMul", [x, w], name: "matmul", outputNames: softmax ? null : ["scores"]).Outputs[0];
        if (softmax) y = graph.AddNode("Softmax", [y], attributes: [Attr.Int("axis", 1)], name: "softmax", outputNames: ["scores"]).Outputs[0];
        y.Type = TensorTypes.Float(batch, classes);
        graph.Outputs.Add(y);
        return new Model(Header(), graph);
    }

    public static TensorData Floats(string name, Random random, params long[] dims) => Floats(name, random, dims, 0);

    public static TensorData Floats(string name, Random random, long dim, float offset) => Floats(name, random, [dim], offset);

    private static TensorData Floats(string name, Random random, long[] dims, float offset)
    {
        var count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = offset + (float)(random.NextDouble() - 0.5);
        return TensorData.FromFloats(name, dims, values);
    }

    public static string Save(Model model, string path)
    {
        ModelFile.Save(model.ToProto(), path);
        return path;
    }

    /// <summary>Random float inputs for every real graph input (symbolic dims = <paramref name="batch"/>).</summary>
    public static Dictionary<string, (float[] Data, long[] Shape)> RandomInputs(ModelProto proto, int batch = 5, int seed = 7)
    {
        var random = new Random(seed);
        var initializers = proto.Graph.Initializer.Select(i => i.Name).ToHashSet();
        var inputs = new Dictionary<string, (float[], long[])>();
        foreach (var input in proto.Graph.Input.Where(i => !initializers.Contains(i.Name)))
        {
            var shape = input.Type.TensorType.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : batch).ToArray();
            var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
            inputs[input.Name] = (data, shape);
        }
        return inputs;
    }

    /// <summary>Runs a model file (ORT resolves its external data) and returns every output's float bytes.</summary>
    public static Dictionary<string, byte[]> RunFile(string path, Dictionary<string, (float[] Data, long[] Shape)> inputs)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        return Run(session, inputs);
    }

    /// <summary>Runs serialized model bytes.</summary>
    public static Dictionary<string, byte[]> RunBytes(byte[] model, Dictionary<string, (float[] Data, long[] Shape)> inputs, string? externalDataFolder = null)
    {
        using var session = SessionFactory.Create(ModelProto.Parser.ParseFrom(model), Device.Cpu(1), externalDataFolder);
        return Run(session, inputs);
    }

    private static Dictionary<string, byte[]> Run(InferenceSession session, Dictionary<string, (float[] Data, long[] Shape)> inputs)
    {
        var names = inputs.Keys.ToList();
        var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(inputs[n].Data, inputs[n].Shape)).ToList();
        try
        {
            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames.ToList();
            using var results = session.Run(runOptions, names, values, outputNames);
            var outputs = new Dictionary<string, byte[]>();
            for (var i = 0; i < outputNames.Count; i++)
                outputs[outputNames[i]] = results[i].GetTensorDataAsSpan<byte>().ToArray();
            return outputs;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>The repository root (the folder holding OnnxUnlearn.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "OnnxUnlearn.sln")))
                folder = folder.Parent;
            return folder?.FullName ?? throw new InvalidOperationException("OnnxUnlearn.sln not found above the test folder");
        }
    }

    /// <summary>The .onnx files under models/ (empty until the sample models are committed).</summary>
    public static IEnumerable<string> SampleModels()
    {
        var folder = Path.Combine(RepositoryRoot, "models");
        return Directory.Exists(folder) ? Directory.GetFiles(folder, "*.onnx").Order(StringComparer.Ordinal) : [];
    }

    public static byte[] Bytes(this IMessage message) => message.ToByteArray();
}

/// <summary>A fresh temp folder per use, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "onnxunlearn-test-" + Guid.NewGuid().ToString("N"));

    public string this[string name] => Path.Combine(Root, name);

    /// <summary>Every file under the folder, relative, sorted.</summary>
    public string[] Files() => Directory.GetFiles(Root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Root, f)).Order(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
