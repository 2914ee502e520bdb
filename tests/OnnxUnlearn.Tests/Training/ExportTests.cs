using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Training;

[TestFixture]
public class ExportTests
{
    /// <summary>
    /// After a few training steps the written model, loaded from its file in a fresh session, gives
    /// bit for bit the outputs of the in-memory parameters; only initializer values and metadata change.
    /// </summary>
    [Test]
    public void Written_model_reproduces_the_trained_parameters_bit_for_bit()
    {
        var path = Fixtures.Model("fmnist_cnn_bn.onnx");
        var model = ModelFile.Load(path);
        var info = ClassifierInfo.Analyze(model, path);
        using var data = DatasetLoader.Open(new DataOptions { Path = Fixtures.Model("fmnist_test.npz"), Preprocessing = Preprocessing.FromPreset("fmnist") }, info.Input);
        var (trained, losses) = TrainingRunner.Run(model, ShapeProbe.Run(model, info), new TrainingGraphOptions(), data,
            Enumerable.Range(0, 96).ToArray(), new TrainingRunSettings { BatchSize = 32, LearningRate = 1e-3f }, Device.Cpu(2));
        Assert.That(losses, Has.Count.EqualTo(3));
        Assert.That(trained.Keys, Does.Contain("stem.1.running_var"), "running statistics are written back");

        using var dir = new TempDir();
        var export = ModelExporter.ForExport(ModelFile.LoadProto(path), trained);
        Assert.That(export.Streamed, Is.Empty, "an inline model holds its trained values in memory");
        var inMemory = export.Proto;
        ModelExporter.SetMetadata(inMemory, new Dictionary<string, string> { ["job"] = "test" });
        ModelExporter.Write(export, path, dir["trained.onnx"]);

        var x = new float[8 * 784];
        data.ReadSamples(Enumerable.Range(100, 8).ToArray(), x);
        using var memorySession = SessionFactory.Create(inMemory, Device.Cpu(1));
        using var fileSession = new InferenceSession(dir["trained.onnx"]);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [8, 1, 28, 28]);
        using var runOptions = new RunOptions();
        using var a = memorySession.Run(runOptions, ["input"], [input], ["logits"]);
        using var b = fileSession.Run(runOptions, ["input"], [input], ["logits"]);
        Assert.That(b[0].GetTensorDataAsSpan<float>().ToArray(), Is.EqualTo(a[0].GetTensorDataAsSpan<float>().ToArray()));

        var original = ModelFile.LoadProto(path);
        var written = ModelFile.LoadProto(dir["trained.onnx"]);
        Assert.That(written.Graph.Node, Is.EqualTo(original.Graph.Node));
        foreach (var tensor in written.Graph.Initializer)
        {
            var values = new TensorData(tensor).ToFloatArray();
            var before = new TensorData(original.Graph.Initializer.Single(t => t.Name == tensor.Name)).ToFloatArray();
            if (trained.TryGetValue(tensor.Name, out var expected))
            {
                Assert.That(values, Is.EqualTo(expected), tensor.Name);
                Assert.That(values, Is.Not.EqualTo(before), $"{tensor.Name} was trained");
            }
            else
            {
                Assert.That(values, Is.EqualTo(before), $"{tensor.Name} is unchanged");
            }
        }
        Assert.That(written.MetadataProps.Single(p => p.Key == "onnx_unlearn.job").Value, Is.EqualTo("test"));
    }
}
