using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Training;
using OnnxUnlearn.Unlearning;

using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Unlearning;

[TestFixture]
public class UnsirUnlearnerTests
{
    private static Model _trained = null!;

    /// <summary>Trains the small CNN on the quadrant task with our own trainer (a few seconds).</summary>
    [OneTimeSetUp]
    public void TrainOnce()
    {
        var model = TestModels.TwoConvCnn(classes: 4, seed: 1);
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

    /// <summary>The mechanics on a toy task: noise per class shared from the budget, every noise
    /// sample in the impair set, the retained subset drawn per retained class, at most MaxRounds.</summary>
    [TestCase(new[] { 0 }, 64)]
    [TestCase(new[] { 1, 3 }, 32)]
    public void Noise_budget_is_shared_and_every_noise_sample_enters_the_impair_set(int[] forget, int perClass)
    {
        using var train = InMemoryDataset.Quadrants(100, seed: 2);
        var info = ClassifierInfo.Analyze(_trained, "trained");
        var shapes = ShapeProbe.Run(_trained, info);
        var settings = new UnsirSettings { NoiseBatch = 64, MinNoisePerClass = 16, NoiseSteps = 3, NoiseCopies = 4, RetainPerClass = 30, BatchSize = 64, MaxRounds = 2, Seed = 1 };
        var result = UnsirUnlearner.Run(_trained, info, shapes, train, forget, settings, Device.Cpu(2));
        Assert.That(result.NoisePerClass, Is.EqualTo(perClass));
        Assert.That(result.Noise, Has.Length.EqualTo(64 * 64));
        Assert.That(result.NoiseCount, Is.EqualTo(4 * 64));
        Assert.That(result.RetainSubsetCount, Is.EqualTo(30 * (4 - forget.Length)));
        Assert.That(result.Rounds, Has.Count.InRange(1, 2));
        Assert.That(result.ForgetCheckAccuracy, Is.Not.Null);
        var impairSteps = (int)Math.Ceiling((30.0 * (4 - forget.Length) + 4 * 64) / 64);
        Assert.That(result.Losses["impair"], Has.Count.EqualTo(impairSteps * result.Rounds.Count));
        Assert.That(result.Losses["noise"], Has.Count.EqualTo(3));
        Assert.That(result.Losses["noise"][^1], Is.LessThan(result.Losses["noise"][0]), "the noise maximises the error");
    }

    /// <summary>With impair effectively off, repair alone leaves the class recognised: every round
    /// runs, each at ImpairRateGrowth times the last one's rate, and the log holds each check.</summary>
    [Test]
    public void Rounds_go_on_while_the_forgotten_class_is_recognised_each_at_a_higher_impair_rate()
    {
        using var train = InMemoryDataset.Quadrants(100, seed: 2);
        var info = ClassifierInfo.Analyze(_trained, "trained");
        var shapes = ShapeProbe.Run(_trained, info);
        var settings = new UnsirSettings
        {
            NoiseBatch = 16, MinNoisePerClass = 16, NoiseSteps = 2, NoiseCopies = 1, RetainPerClass = 20, BatchSize = 64, Seed = 1,
            ImpairLearningRate = 1e-9f, ImpairRateGrowth = 3, MaxRounds = 3, ForgetTarget = 0.01,
        };
        var result = UnsirUnlearner.Run(_trained, info, shapes, train, [1], settings, Device.Cpu(2));
        Assert.That(result.Rounds.Select(r => r.ImpairLearningRate), Is.EqualTo(new[] { 1e-9f, 3e-9f, 9e-9f }).Within(1e-4).Percent);
        Assert.That(result.Rounds.Select(r => r.ForgetCheckAccuracy), Has.All.GreaterThan(0.5), "impair at ~0 forgets nothing");
        Assert.That(result.ForgetCheckAccuracy, Is.EqualTo(result.Rounds[^1].ForgetCheckAccuracy));
        Assert.That(result.Rounds.Sum(r => r.ImpairSeconds), Is.EqualTo(result.TimingsSeconds["impair"]).Within(1e-9));
        Assert.That(result.Rounds.Sum(r => r.RepairSeconds), Is.EqualTo(result.TimingsSeconds["repair"]).Within(1e-9));

        var once = UnsirUnlearner.Run(_trained, info, shapes, train, [1], settings with { ForgetTarget = 1 }, Device.Cpu(2));
        Assert.That(once.Rounds, Has.Count.EqualTo(1), "a check at or below the target ends the rounds");
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
