using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Training;
using OnnxUnlearn.Unlearning;

namespace OnnxUnlearn.Tests.Unlearning;

[TestFixture]
public class UnsirUnlearnerTests
{
    private static Model _trained = null!;

    /// <summary>Trains the small CNN on the quadrant task with our own trainer (a few seconds).</summary>
    [OneTimeSetUp]
    public void TrainOnce()
    {
        var model = ModelFactory.SmallCnn(classes: 4, seed: 1);
        var info = ClassifierInfo.Analyze(model, "small");
        var shapes = ShapeProbe.Run(model, info);
        var graph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions());
        using var data = InMemoryDataset.Quadrants(300, seed: 1);
        using var trainer = new Trainer(graph, Device.Cpu(2));
        var x = new float[64 * 64];
        var y = new long[64];
        var random = new Random(0);
        for (var step = 0; step < 150; step++)
        {
            var indices = Enumerable.Range(0, 64).Select(_ => random.Next(data.Count)).ToArray();
            data.ReadSamples(indices, x);
            for (var i = 0; i < 64; i++) y[i] = data.Labels[indices[i]];
            trainer.Step(x, y, 64, [1, 8, 8], 0.01f, "train");
        }
        _trained = Model.FromProto(ModelExporter.WithInitializers(model.ToProto(), trainer.ReadInitializers()));
    }

    [TestCase(new[] { 0 })]
    [TestCase(new[] { 1, 3 })]
    public void Forgotten_classes_fall_to_zero_and_the_rest_holds(int[] forget)
    {
        using var train = InMemoryDataset.Quadrants(300, seed: 2);
        using var test = InMemoryDataset.Quadrants(100, seed: 3);
        var info = ClassifierInfo.Analyze(_trained, "trained");
        var shapes = ShapeProbe.Run(_trained, info);
        var before = Accuracy.PerClass(_trained, test);
        Assert.That(before.Average(), Is.GreaterThan(0.9), "the trained model should solve the task");

        var settings = new UnsirSettings { NoiseBatch = 64, MinNoisePerClass = 16, NoiseCopies = 4, RetainPerClass = 150, BatchSize = 64, Seed = 1 };
        var result = UnsirUnlearner.Run(_trained, info, shapes, train, forget, settings, Device.Cpu(2));
        var after = Accuracy.PerClass(Model.FromProto(ModelExporter.WithInitializers(_trained.ToProto(), result.Initializers)), test);

        var retained = Enumerable.Range(0, 4).Except(forget).ToArray();
        TestContext.Out.WriteLine($"before {string.Join(" ", before)}; after {string.Join(" ", after)}");
        foreach (var (phase, l) in result.Losses) TestContext.Out.WriteLine($"{phase}: {string.Join(" ", l.Select(v => v.ToString("F3")))}");
        foreach (var c in forget)
            Assert.That(after[c], Is.LessThanOrEqualTo(0.01), $"class {c} must be forgotten");
        Assert.That(retained.Average(c => after[c]), Is.GreaterThan(retained.Average(c => before[c]) - 0.03));
        Assert.That(result.NoisePerClass, Is.EqualTo(forget.Length == 1 ? 64 : 32));
        Assert.That(result.NoiseCount, Is.EqualTo(4 * 64));
        Assert.That(result.RetainSubsetCount, Is.EqualTo(150 * retained.Length));
    }

    [Test]
    public void Same_seed_gives_the_same_weights()
    {
        using var train = InMemoryDataset.Quadrants(60, seed: 2);
        var info = ClassifierInfo.Analyze(_trained, "trained");
        var shapes = ShapeProbe.Run(_trained, info);
        var settings = new UnsirSettings { NoiseBatch = 16, MinNoisePerClass = 8, NoiseSteps = 3, NoiseCopies = 2, RetainPerClass = 20, BatchSize = 32, Seed = 7 };
        var a = UnsirUnlearner.Run(_trained, info, shapes, train, [2], settings, Device.Cpu(1));
        var b = UnsirUnlearner.Run(_trained, info, shapes, train, [2], settings, Device.Cpu(1));
        var c = UnsirUnlearner.Run(_trained, info, shapes, train, [2], settings with { Seed = 8 }, Device.Cpu(1));
        Assert.That(a.Initializers["fc.weight"], Is.EqualTo(b.Initializers["fc.weight"]));
        Assert.That(a.Initializers["fc.weight"], Is.Not.EqualTo(c.Initializers["fc.weight"]));
    }
}

/// <summary>Per-class accuracy by plain inference, for tests.</summary>
internal static class Accuracy
{
    public static double[] PerClass(Model model, InMemoryDataset data)
    {
        var info = ClassifierInfo.Analyze(model, "model");
        using var session = SessionFactory.Create(model.ToProto(), Device.Cpu(1));
        var x = new float[data.Count * 64];
        data.ReadSamples(Enumerable.Range(0, data.Count).ToArray(), x);
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [data.Count, 1, 8, 8]);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var result = session.Run(runOptions, [info.Input.Name], [input], [info.Output.Name]);
        var scores = result[0].GetTensorDataAsSpan<float>();
        var correct = new int[info.ClassCount];
        var total = new int[info.ClassCount];
        for (var i = 0; i < data.Count; i++)
        {
            var row = scores.Slice(i * info.ClassCount, info.ClassCount);
            var predicted = 0;
            for (var k = 1; k < row.Length; k++) if (row[k] > row[predicted]) predicted = k;
            total[data.Labels[i]]++;
            if (predicted == data.Labels[i]) correct[data.Labels[i]]++;
        }
        return correct.Select((c, k) => total[k] == 0 ? double.NaN : (double)c / total[k]).ToArray();
    }
}
