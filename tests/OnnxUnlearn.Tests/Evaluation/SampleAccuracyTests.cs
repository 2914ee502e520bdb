using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Evaluation;

/// <summary>
/// eval on each sample model reproduces the accuracy PyTorch measured on the committed test subset.
/// The expected figures are copied from models/PROVENANCE.md ("Test accuracy (PyTorch, committed
/// fmnist_test.npz)" and the per-class correct counts of 500); update both together.
/// </summary>
public sealed class SampleAccuracyTests
{
    private const string TestData = "fmnist_test.npz";

    public static IEnumerable<TestCaseData> Samples()
    {
        // models/PROVENANCE.md, fmnist_cnn_bn.onnx: 91.06 % (4553/5000).
        yield return new TestCaseData("fmnist_cnn_bn.onnx", 4553, new[] { 444, 488, 429, 464, 430, 487, 358, 482, 493, 478 });
        // models/PROVENANCE.md, fmnist_cnn_folded.onnx: 91.06 % (4553/5000).
        yield return new TestCaseData("fmnist_cnn_folded.onnx", 4553, new[] { 444, 488, 429, 464, 430, 487, 358, 482, 493, 478 });
        // models/PROVENANCE.md, fmnist_mlp.onnx: 87.96 % (4398/5000).
        yield return new TestCaseData("fmnist_mlp.onnx", 4398, new[] { 424, 482, 381, 459, 399, 473, 338, 475, 486, 481 });
    }

    [TestCaseSource(nameof(Samples))]
    public void EvalReproducesThePyTorchAccuracy(string modelName, int pytorchCorrect, int[] pytorchPerClass)
    {
        var modelPath = SamplePath(modelName);
        var model = ModelFile.Load(modelPath);
        var info = ClassifierInfo.Analyze(model, modelPath);
        using var data = DatasetLoader.Open(new DataOptions { Path = SamplePath(TestData), Preprocessing = Preprocessing.FromPreset("fmnist") }, info.Input);

        var report = Evaluator.Evaluate(model, info, data, Device.Cpu());

        Assert.That(report.Count, Is.EqualTo(5000));
        Assert.That(report.Accuracy, Is.EqualTo(pytorchCorrect / 5000.0).Within(0.001), "more than 0.1 percentage point from PyTorch");
        for (var c = 0; c < 10; c++)
            Assert.That(report.ClassCorrect[c], Is.EqualTo(pytorchPerClass[c]).Within(1), $"class {c}");
    }

    [Test]
    public void TheCliPrintsTheSameFigures()
    {
        var result = CliRunner.Run("eval", "--model", SamplePath("fmnist_mlp.onnx"), "--data", SamplePath(TestData),
            "--preprocess", "fmnist", "--json", "--quiet", "--classes", "0,6");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.StartWith("""{"count":5000,"accuracy":0.8796,"per_class_acc":[0.848,"""));
        // forget = classes 0 and 6: (424 + 338) / 1000; retain: the other 3636 of 4000.
        Assert.That(result.Out, Does.EndWith(""","forget_acc":0.762,"retain_acc":0.909}""" + Environment.NewLine));
    }

    private static string SamplePath(string name)
    {
        var path = Path.Combine(TestModels.RepositoryRoot, "models", name);
        if (!File.Exists(path))
            Assert.Ignore($"models/{name} is not committed");
        return path;
    }
}
