using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Data.Npy;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>
/// Keras (tf2onnx) and scikit-learn (skl2onnx) graphs, built as those converters write them
/// (<see cref="KerasModels"/>): inspected as fully trainable, differentiated correctly end to end,
/// unlearned, and exported with the interface and nodes they came with.
/// </summary>
[TestFixture]
public class KerasGraphTests
{
    /// <summary>A graph, the output that must be found as the class scores, and its input layout.</summary>
    public sealed record GraphCase(string Name, Func<Model> Build, string Output, InputLayout Layout)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<GraphCase> Graphs() =>
    [
        new("keras_cnn_flatten_opset13", () => KerasModels.Cnn(13, KerasHead.Flatten), "dense_1", InputLayout.Nhwc),
        new("keras_cnn_reducemean_opset15", () => KerasModels.Cnn(15, KerasHead.ReduceMean), "dense_1", InputLayout.Nhwc),
        new("keras_cnn_gap_opset13_gray", () => KerasModels.Cnn(13, KerasHead.GlobalAveragePool, size: 10, channels: 1, classes: 3), "dense_1", InputLayout.Nhwc),
        new("keras_mlp_opset13", () => KerasModels.Mlp(13), "Identity:0", InputLayout.Nhwc),
        new("keras_mlp_opset15", () => KerasModels.Mlp(15, size: 12, classes: 5), "Identity:0", InputLayout.Nhwc),
        new("sklearn_mlp_matmul", () => KerasModels.SklearnMlp(gemm: false), "probabilities", InputLayout.Flat),
        new("sklearn_mlp_gemm", () => KerasModels.SklearnMlp(gemm: true), "probabilities", InputLayout.Flat),
    ];

    [TestCaseSource(nameof(Graphs))]
    public void Inspect_finds_the_classifier_and_full_trainability(GraphCase graph)
    {
        var report = ModelInspector.Inspect(graph.Build(), graph.Name);
        Assert.That(report.NotClassifierReason, Is.Null);
        Assert.That(report.Classifier!.OutputName, Is.EqualTo(graph.Output));
        Assert.That(report.Classifier.Head, Is.EqualTo(HeadKind.Softmax));
        Assert.That(report.Classifier.Layout, Is.EqualTo(graph.Layout));
        Assert.That(report.Trainability!.Trainable, Is.True, string.Join("; ", report.Trainability.Blockers));
        Assert.That(report.Quantization, Is.Null);
        Assert.That(report.Float16, Is.False);
    }

    [TestCaseSource(nameof(Graphs))]
    public void Gradient_of_the_whole_graph_matches_central_differences(GraphCase graph) =>
        Assert.That(CoverageChecks.WholeModelGradientError(graph.Build()), Is.LessThan(1e-2));

    [TestCaseSource(nameof(Graphs))]
    public void Forget_runs_and_the_export_keeps_the_interface_and_nodes(GraphCase graph)
    {
        using var dir = new TempDir();
        var model = graph.Build();
        var source = TestModels.Save(model, dir["model.onnx"]);
        var trained = CoverageChecks.Forget(model);
        var output = CoverageChecks.ExportAndCheck(source, trained, dir["forgot.onnx"]);
        if (graph.Name.StartsWith("sklearn", StringComparison.Ordinal))
        {
            // The label output still follows the (new) probabilities.
            var inputs = TestModels.RandomInputs(ModelFile(output), 6);
            using var session = new InferenceSession(output);
            using var x = OrtValue.CreateTensorValueFromMemory(inputs["float_input"].Data, inputs["float_input"].Shape);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, ["float_input"], [x], ["label", "probabilities"]);
            var labels = results[0].GetTensorDataAsSpan<long>().ToArray();
            var p = results[1].GetTensorDataAsSpan<float>().ToArray();
            var classes = p.Length / labels.Length;
            for (var i = 0; i < labels.Length; i++)
                Assert.That(labels[i], Is.EqualTo(Array.IndexOf(p, p.Skip(i * classes).Take(classes).Max(), i * classes) - i * classes));
        }
    }

    /// <summary>
    /// Through the CLI with Keras-style data (an .npz of NHWC images): eval's accuracy must be what
    /// the model computes on those arrays as they are (so the data layer fed NHWC unchanged), and
    /// forget writes a model that loads.
    /// </summary>
    [Test]
    public void Cli_feeds_nhwc_data_to_a_keras_model_and_forgets()
    {
        using var dir = new TempDir();
        var model = KerasModels.Cnn(13, KerasHead.Flatten, size: 12, channels: 3, classes: 4);
        var path = TestModels.Save(model, dir["keras.onnx"]);
        const int count = 64;
        var random = new Random(4);
        var x = CoverageChecks.Normal(random, count * 12 * 12 * 3);
        var y = Enumerable.Range(0, count).Select(i => (long)(i % 4)).ToArray();
        using (var stream = File.Create(dir["data.npz"]))
            NpzWriter.Write(stream, [("x", [count, 12, 12, 3], x), ("y", [count], y)]);

        // What the model predicts on the arrays, fed directly.
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [count, 12, 12, 3]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["input_1"], [input], ["dense_1"]);
        var p = results[0].GetTensorDataAsSpan<float>().ToArray();
        var correct = Enumerable.Range(0, count).Count(i => Array.IndexOf(p, p.Skip(i * 4).Take(4).Max(), i * 4) - i * 4 == y[i]);

        var eval = CliRunner.Run("eval", "--model", path, "--data", dir["data.npz"], "--json", "--quiet", "--threads", "1");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
        var accuracy = JsonDocument.Parse(eval.Out).RootElement.GetProperty("accuracy").GetDouble();
        Assert.That(accuracy, Is.EqualTo(correct / (double)count).Within(1e-9));

        var forget = CliRunner.Run("forget", "--model", path, "--data", dir["data.npz"], "--classes", "1", "--out", dir["out.onnx"],
            "--noise-steps", "2", "--noise-batch", "16", "--min-noise-per-class", "8", "--noise-copies", "1", "--retain-per-class", "8",
            "--batch", "16", "--max-rounds", "1", "--threads", "1", "--quiet");
        Assert.That(forget.ExitCode, Is.EqualTo(0), forget.ToString());
        var inputs = TestModels.RandomInputs(ModelFile(dir["out.onnx"]), 3);
        Assert.That(TestModels.RunFile(dir["out.onnx"], inputs)["dense_1"], Has.Length.EqualTo(3 * 4 * sizeof(float)));
    }

    private static Onnx.ModelProto ModelFile(string path) => OnnxUnlearn.Serialization.ModelFile.LoadProto(path);
}
