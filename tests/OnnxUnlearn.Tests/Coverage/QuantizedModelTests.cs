using Google.Protobuf;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>
/// Quantized models, as ONNX Runtime's quantization tool writes them: QDQ (float ops between
/// QuantizeLinear/DequantizeLinear, int8 weights behind a DequantizeLinear) and QOperator
/// (QLinearMatMul, dynamic MatMulInteger). inspect says so; forget refuses them with exit code 2,
/// one line saying what to do, and writes nothing.
/// </summary>
[TestFixture]
public class QuantizedModelTests
{
    private static readonly string Data = Fixtures.Model("fmnist_test.npz");

    public sealed record QuantizedCase(string Name, Func<Model> Build, string Format)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<QuantizedCase> Models() =>
    [
        new("qdq_cnn", QdqCnn, "QDQ"),
        new("qlinear_matmul_mlp", QLinearMlp, "QOperator"),
        new("dynamic_matmulinteger_mlp", DynamicMlp, "QOperator"),
    ];

    [TestCaseSource(nameof(Models))]
    public void Inspect_says_the_model_is_quantized_and_not_trainable(QuantizedCase c)
    {
        using var dir = new TempDir();
        var path = TestModels.Save(c.Build(), dir[c.Name + ".onnx"]);
        var report = ModelInspector.Inspect(OnnxUnlearn.Serialization.ModelFile.Load(path), path);
        Assert.That(report.Quantization!.Format, Is.EqualTo(c.Format));
        Assert.That(report.Classifier, Is.Not.Null, report.NotClassifierReason);
        Assert.That(report.Trainability!.Trainable, Is.False);

        var text = CliRunner.Run("inspect", path);
        Assert.That(text.ExitCode, Is.EqualTo(0), text.ToString());
        Assert.That(text.Out, Does.Contain($"quantized      yes, {c.Format}: "));
        Assert.That(text.Out, Does.Contain("trainable      no: the model is quantized; unlearn the float model"));
    }

    [TestCaseSource(nameof(Models))]
    public void Forget_refuses_a_quantized_model_saying_what_to_do(QuantizedCase c)
    {
        using var dir = new TempDir();
        var path = TestModels.Save(c.Build(), dir["q.onnx"]);
        var result = CliRunner.Run("forget", "--model", path, "--data", Data, "--preprocess", "fmnist", "--classes", "0", "--out", dir["out.onnx"]);
        CliRunner.AssertError(result, 2, "q.onnx", $"the model is quantized ({c.Format}: ", "then quantize the result again");
        Assert.That(dir.Files(), Is.EqualTo(new[] { "q.onnx" }), "nothing written");
    }

    /// <summary>[N,1,28,28] → Q/DQ → Conv(int8 weight behind DequantizeLinear) → Relu → Q/DQ →
    /// GlobalAveragePool → Flatten → Gemm → logits [N, 10].</summary>
    private static Model QdqCnn()
    {
        var graph = new Graph("qdq");
        var b = new GraphBuilder(graph, 13, "q");
        var x = graph.AddInput("input", TensorTypes.Float(-1, 1, 28, 28));
        var scale = graph.AddInitializer(TensorData.FromFloats("act_scale", [], [0.02f]));
        var zero = graph.AddInitializer(Bytes("act_zero_point", DataType.Uint8, [], [128]));
        Value QuantizeDequantize(Value v) => b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, scale, zero), scale, zero);
        var weight = graph.AddInitializer(Bytes("conv.weight_quantized", DataType.Int8, [4, 1, 3, 3], [.. Enumerable.Range(0, 36).Select(i => (byte)(sbyte)(i % 7 - 3))]));
        var weightScale = graph.AddInitializer(TensorData.FromFloats("conv.weight_scale", [], [0.05f]));
        var weightZero = graph.AddInitializer(Bytes("conv.weight_zero_point", DataType.Int8, [], [0]));
        var h = b.Op("Conv", [QuantizeDequantize(x), b.Op("DequantizeLinear", weight, weightScale, weightZero)], Attr.Ints("pads", [1, 1, 1, 1]));
        h = QuantizeDequantize(b.Op("Relu", h));
        h = b.Op("Flatten", b.Op("GlobalAveragePool", h));
        var fc = graph.AddInitializer(TestModels.Floats("fc.weight", new Random(1), 10, 4));
        var logits = graph.AddNode("Gemm", [h, fc], attributes: [Attr.Int("transB", 1)], name: "fc", outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(-1, 10);
        graph.Outputs.Add(logits);
        return new Model(TestModels.Header(13), graph);
    }

    /// <summary>[N,784] → QuantizeLinear → QLinearMatMul(uint8 weight) → DequantizeLinear → [N, 10].</summary>
    private static Model QLinearMlp()
    {
        var graph = new Graph("qlinear");
        var b = new GraphBuilder(graph, 13, "q");
        var x = graph.AddInput("input", TensorTypes.Float(-1, 784));
        var scale = graph.AddInitializer(TensorData.FromFloats("input_scale", [], [0.02f]));
        var zero = graph.AddInitializer(Bytes("input_zero_point", DataType.Uint8, [], [128]));
        var weight = graph.AddInitializer(Bytes("fc.weight_quantized", DataType.Uint8, [784, 10], [.. Enumerable.Range(0, 7840).Select(i => (byte)(120 + i % 17))]));
        var weightScale = graph.AddInitializer(TensorData.FromFloats("fc.weight_scale", [], [0.01f]));
        var weightZero = graph.AddInitializer(Bytes("fc.weight_zero_point", DataType.Uint8, [], [128]));
        var outScale = graph.AddInitializer(TensorData.FromFloats("logits_scale", [], [0.1f]));
        var outZero = graph.AddInitializer(Bytes("logits_zero_point", DataType.Uint8, [], [128]));
        var q = b.Op("QuantizeLinear", x, scale, zero);
        var y = b.Op("QLinearMatMul", q, scale, zero, weight, weightScale, weightZero, outScale, outZero);
        var logits = graph.AddNode("DequantizeLinear", [y, outScale, outZero], name: "dequantize", outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(-1, 10);
        graph.Outputs.Add(logits);
        return new Model(TestModels.Header(13), graph);
    }

    /// <summary>Dynamic quantization: [N,784] → DynamicQuantizeLinear → MatMulInteger(uint8 weight) →
    /// Cast → × (input scale · weight scale) → Add bias → [N, 10].</summary>
    private static Model DynamicMlp()
    {
        var graph = new Graph("dynamic");
        var b = new GraphBuilder(graph, 13, "q");
        var x = graph.AddInput("input", TensorTypes.Float(-1, 784));
        var quantized = graph.AddNode("DynamicQuantizeLinear", [x], 3, name: "input_quantize");
        var weight = graph.AddInitializer(Bytes("fc.weight_quantized", DataType.Uint8, [784, 10], [.. Enumerable.Range(0, 7840).Select(i => (byte)(120 + i % 17))]));
        var weightZero = graph.AddInitializer(Bytes("fc.weight_zero_point", DataType.Uint8, [], [128]));
        var product = b.Op("MatMulInteger", quantized.Outputs[0], weight, quantized.Outputs[2], weightZero);
        var rescale = b.Mul(quantized.Outputs[1], graph.AddInitializer(TensorData.FromFloats("fc.weight_scale", [], [0.01f])));
        var scaled = b.Mul(b.Cast(product, DataType.Float), rescale);
        var bias = graph.AddInitializer(TestModels.Floats("fc.bias", new Random(2), 10));
        var logits = graph.AddNode("Add", [scaled, bias], name: "fc_bias", outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(-1, 10);
        graph.Outputs.Add(logits);
        return new Model(TestModels.Header(13), graph);
    }

    private static TensorData Bytes(string name, DataType type, long[] dims, byte[] values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(values) };
        proto.Dims.AddRange(dims);
        return new TensorData(proto);
    }
}
