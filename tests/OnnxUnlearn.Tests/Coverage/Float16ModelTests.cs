using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data.Npy;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>
/// Models converted to float16 throughout (weights, input, output), as onnxconverter-common's
/// float16 converter writes them with keep_io_types=False: analysed and trained as their float32
/// equivalent, written back with float16 weights and the float16 interface.
/// </summary>
[TestFixture]
public class Float16ModelTests
{
    [Test]
    public void Inspect_reports_float16_and_a_trainable_classifier()
    {
        var report = ModelInspector.Inspect(ToFloat16(KerasModels.Cnn(13, KerasHead.Flatten)), "fp16");
        Assert.That(report.Float16, Is.True);
        Assert.That(report.Inputs.Single().ElementType, Is.EqualTo("float16"));
        Assert.That(report.Classifier, Is.Not.Null, report.NotClassifierReason);
        Assert.That(report.Classifier!.Layout, Is.EqualTo(OnnxUnlearn.Data.InputLayout.Nhwc));
        Assert.That(report.Trainability!.Trainable, Is.True, string.Join("; ", report.Trainability.Blockers));
    }

    [Test]
    public void Widening_gives_the_float32_model_it_stands_for()
    {
        var model = Model.FromProto(ToFloat16(TestModels.Cnn()).ToProto());
        Assert.That(Float16WideningPass.Apply(model), Is.True);
        Assert.That(Float16WideningPass.Applies(model), Is.False);
        Assert.That(model.Graph.Initializers.Where(v => v.Initializer!.IsFloatingPoint).Select(v => v.Initializer!.ElementType), Is.All.EqualTo(DataType.Float));
        var reference = TestModels.Cnn();
        var inputs = TestModels.RandomInputs(reference.ToProto(), 3);
        var expected = MemoryMarshal.Cast<byte, float>(TestModels.RunBytes(reference.ToProto().ToByteArray(), inputs)["logits"]).ToArray();
        var actual = MemoryMarshal.Cast<byte, float>(TestModels.RunBytes(model.ToProto().ToByteArray(), inputs)["logits"]).ToArray();
        Assert.That(actual, Is.EqualTo(expected).Within(0.01), "float16-rounded weights, float32 arithmetic");
    }

    /// <summary>forget (and eval) through the CLI on a float16 Keras CNN with float32 NHWC data: the
    /// output keeps float16 weights, input and output, the same nodes, and runs on float16 input.</summary>
    [Test]
    public void Forget_writes_a_float16_model_back()
    {
        using var dir = new TempDir();
        var path = TestModels.Save(ToFloat16(KerasModels.Cnn(13, KerasHead.Flatten, size: 12, channels: 3, classes: 4)), dir["fp16.onnx"]);
        const int count = 48;
        var x = CoverageChecks.Normal(new Random(6), count * 12 * 12 * 3);
        using (var stream = File.Create(dir["data.npz"]))
            NpzWriter.Write(stream, [("x", [count, 12, 12, 3], x), ("y", [count], Enumerable.Range(0, count).Select(i => (long)(i % 4)).ToArray())]);

        var eval = CliRunner.Run("eval", "--model", path, "--data", dir["data.npz"], "--quiet", "--threads", "1");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
        // train --test evaluates the float16 model it wrote, widened like its input
        var train = CliRunner.Run("train", "--model", path, "--data", dir["data.npz"], "--test", dir["data.npz"], "--out", dir["trained.onnx"],
            "--epochs", "1", "--batch", "16", "--threads", "1", "--quiet");
        Assert.That(train.ExitCode, Is.EqualTo(0), train.ToString());
        var forget = CliRunner.Run("forget", "--model", path, "--data", dir["data.npz"], "--classes", "2", "--out", dir["out.onnx"],
            "--noise-steps", "2", "--noise-batch", "16", "--min-noise-per-class", "8", "--noise-copies", "1", "--retain-per-class", "8",
            "--batch", "16", "--max-rounds", "1", "--threads", "1", "--quiet");
        Assert.That(forget.ExitCode, Is.EqualTo(0), forget.ToString());

        var original = ModelFile.LoadProto(path);
        var written = ModelFile.LoadProto(dir["out.onnx"]);
        Assert.That(written.Graph.Node, Is.EqualTo(original.Graph.Node));
        Assert.That(written.Graph.Input, Is.EqualTo(original.Graph.Input));
        Assert.That(written.Graph.Output, Is.EqualTo(original.Graph.Output));
        Assert.That(written.Graph.Initializer.Select(t => (t.Name, (DataType)t.DataType)), Is.EqualTo(original.Graph.Initializer.Select(t => (t.Name, (DataType)t.DataType))));
        var changed = written.Graph.Initializer.Zip(original.Graph.Initializer).Count(p => !p.First.RawData.Equals(p.Second.RawData));
        Assert.That(changed, Is.GreaterThan(4), "trained float16 weights were written");

        using var session = new InferenceSession(dir["out.onnx"]);
        Assert.That(session.InputMetadata["input_1"].ElementDataType, Is.EqualTo(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16));
        var half = x.Take(2 * 12 * 12 * 3).Select(v => new Float16(BitConverter.HalfToUInt16Bits((Half)v))).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(half, [2, 12, 12, 3]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["input_1"], [input], ["dense_1"]);
        var p = results[0].GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)BitConverter.UInt16BitsToHalf(h.value)).ToArray();
        Assert.That(p, Has.Length.EqualTo(8));
        Assert.That(p.Sum(), Is.EqualTo(2).Within(0.01), "two softmax rows");
    }

    /// <summary>The model with every float32 initializer, input and output converted to float16.</summary>
    internal static Model ToFloat16(Model model)
    {
        var proto = model.ToProto();
        foreach (var tensor in proto.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float))
        {
            var values = new TensorData(tensor).ToFloatArray().Select(v => (Half)v).ToArray();
            tensor.DataType = (int)DataType.Float16;
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        }
        foreach (var info in proto.Graph.Input.Concat(proto.Graph.Output).Where(i => i.Type.TensorType.ElemType == (int)DataType.Float))
            info.Type.TensorType.ElemType = (int)DataType.Float16;
        return Model.FromProto(proto);
    }
}
