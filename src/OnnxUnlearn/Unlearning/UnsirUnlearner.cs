using System.Diagnostics;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Optimizers;

namespace OnnxUnlearn.Unlearning;

/// <summary>What an UNSIR run produced.</summary>
public sealed record UnsirResult(
    Dictionary<string, float[]> Initializers,
    Dictionary<string, float[]> AfterImpair,
    int RetainSubsetCount,
    int NoiseCount,
    int NoisePerClass,
    IReadOnlyDictionary<string, double> TimingsSeconds,
    IReadOnlyDictionary<string, IReadOnlyList<float>> Losses,
    float[] Noise,
    IReadOnlyList<UnsirRound> Rounds)
{
    /// <summary>The check after the last round: accuracy on the forgotten classes' samples of the data (null without any).</summary>
    public double? ForgetCheckAccuracy => Rounds[^1].ForgetCheckAccuracy;
}

/// <summary>One impair + repair round: its impair learning rate, the forget check after it, and its phases' wall time.</summary>
public sealed record UnsirRound(float ImpairLearningRate, double? ForgetCheckAccuracy, double ImpairSeconds, double RepairSeconds);

/// <summary>
/// UNSIR ("Fast Yet Effective Machine Unlearning", Tarun et al.): (1) learn an error-maximising
/// noise batch for the forgotten classes with the model frozen; (2) impair: train on the noise,
/// labelled with its classes, mixed with a retained subset, at a high learning rate; (3) repair:
/// fine-tune on the retained subset alone.
/// </summary>
public static class UnsirUnlearner
{
    public static UnsirResult Run(Model model, ClassifierInfo info, IReadOnlyDictionary<string, ValueShape> shapes,
        ILabeledDataset train, IReadOnlyList<int> forgetClasses, UnsirSettings settings, Device device, ITrainingProgress? progress = null)
    {
        Validate(train, forgetClasses, info.ClassCount);
        var total = Stopwatch.StartNew();
        var forget = forgetClasses.ToHashSet();
        var retained = Enumerable.Range(0, info.ClassCount).Where(c => !forget.Contains(c)).ToHashSet();
        var sampleSize = info.Input.SampleSize;
        long[] sampleDims = [.. info.Input.SampleDims.Select(d => (long)d)];

        // Retained subset Dr_sub, decoded once and kept in memory for impair and repair.
        var subset = Sampling.StratifiedSubset(train.Labels, settings.RetainPerClass, retained, settings.Seed);
        var retainedSamples = new float[subset.Length * sampleSize];
        train.ReadSamples(subset, retainedSamples);
        var retainedLabels = subset.Select(i => (long)train.Labels[i]).ToArray();

        // 1. Noise: one batch for all forgotten classes, NoisePerClass rows each, N(0,1) init.
        var timings = new Dictionary<string, double>();
        var losses = new Dictionary<string, IReadOnlyList<float>>();
        var watch = Stopwatch.StartNew();
        var perClass = settings.NoisePerClass(forgetClasses.Count);
        var noiseLabels = forgetClasses.SelectMany(c => Enumerable.Repeat((long)c, perClass)).ToArray();
        var noise = RandomValues.Normal(new Random(settings.Seed), noiseLabels.Length * sampleSize);
        var noiseGraph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions
        {
            Objective = new Objective.NoiseMaximization(settings.NoiseL2, noiseLabels.Length),
            Optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam },
            BatchNorm = settings.NoiseBatchNorm,
        });
        using (var noiseTrainer = new Trainer(noiseGraph, device, new Dictionary<string, float[]> { [info.Input.Name] = noise }))
        {
            var noiseLosses = new List<float>();
            for (var step = 1; step <= settings.NoiseSteps; step++)
            {
                var loss = noiseTrainer.Step(Memory<float>.Empty, noiseLabels, noiseLabels.Length, sampleDims, settings.NoiseLearningRate, "noise");
                noiseLosses.Add(loss);
                progress?.Report("noise", step, settings.NoiseSteps, loss);
            }
            noise = noiseTrainer.Read(info.Input.Name);
            losses["noise"] = noiseLosses;
        }
        timings["noise"] = watch.Elapsed.TotalSeconds;

        // 2. Impair: noise copies (labelled with their own class) mixed with Dr_sub; 3. Repair: Dr_sub.
        // While forgotten-class samples of the data are still recognised above the target (and
        // rounds are left), impair and repair again from where the last round ended, the impair
        // learning rate multiplied by ImpairRateGrowth each round: gentle first, stronger only if needed.
        var retainedItems = Enumerable.Range(0, subset.Length).ToArray();
        var noiseItems = Enumerable.Range(0, settings.NoiseCopies).SelectMany(_ => Enumerable.Range(0, noiseLabels.Length).Select(j => -1 - j));
        var impairItems = retainedItems.Concat(noiseItems).ToArray();
        var forgetCheck = Sampling.StratifiedSubset(train.Labels, settings.ForgetCheckPerClass, forget, settings.Seed);
        var batch = new PhaseBatch(settings.BatchSize, sampleSize, retainedSamples, retainedLabels, noise, noiseLabels);
        var initializers = new Dictionary<string, float[]>();
        Dictionary<string, float[]>? afterImpair = null;
        var phaseLosses = new Dictionary<string, List<float>> { ["impair"] = [], ["repair"] = [] };
        var rounds = new List<UnsirRound>();
        do
        {
            var roundTimings = new Dictionary<string, double>();
            var impairRate = settings.ImpairLearningRate * MathF.Pow(settings.ImpairRateGrowth, rounds.Count);
            foreach (var (phase, phaseIndex, items, rate, epochs, bn) in new[]
            {
                ("impair", 1, impairItems, impairRate, settings.ImpairEpochs, settings.ImpairBatchNorm),
                ("repair", 2, retainedItems, settings.RepairLearningRate, settings.RepairEpochs, settings.RepairBatchNorm),
            })
            {
                watch.Restart();
                // Each phase starts from the arrays the last one left and updates them in place.
                var graph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions
                {
                    Optimizer = new OptimizerSettings { Kind = settings.Optimizer },
                    BatchNorm = bn,
                    Weights = initializers,
                });
                using var trainer = new Trainer(graph, device);
                var steps = epochs * ((items.Length + settings.BatchSize - 1) / settings.BatchSize);
                for (var epoch = 0; epoch < epochs; epoch++)
                {
                    var order = Sampling.Shuffle(items, unchecked(settings.Seed * 1000 + (rounds.Count + 1) * 10_000 + phaseIndex * 100 + epoch));
                    for (var start = 0; start < order.Length; start += settings.BatchSize)
                    {
                        var count = batch.Fill(order.AsSpan(start, Math.Min(settings.BatchSize, order.Length - start)));
                        var loss = trainer.Step(batch.Samples, batch.Labels, count, sampleDims, rate, phase);
                        phaseLosses[phase].Add(loss);
                        progress?.Report(rounds.Count == 0 ? phase : $"{phase} (round {rounds.Count + 1})", trainer.StepCount, steps, loss);
                    }
                }
                foreach (var (name, values) in trainer.ReadInitializers())
                    initializers[name] = values;
                // A copy: repair goes on updating the arrays.
                afterImpair ??= initializers.ToDictionary(p => p.Key, p => (float[])p.Value.Clone());
                roundTimings[phase] = watch.Elapsed.TotalSeconds;
            }
            var forgetAccuracy = forgetCheck.Length == 0 ? (double?)null : Accuracy(model, initializers, info, train, forgetCheck, device);
            rounds.Add(new UnsirRound(impairRate, forgetAccuracy, roundTimings["impair"], roundTimings["repair"]));
        }
        while (rounds[^1].ForgetCheckAccuracy > settings.ForgetTarget && rounds.Count < settings.MaxRounds);

        foreach (var (phase, values) in phaseLosses) losses[phase] = values;
        timings["impair"] = rounds.Sum(r => r.ImpairSeconds);
        timings["repair"] = rounds.Sum(r => r.RepairSeconds);
        timings["total"] = total.Elapsed.TotalSeconds;
        return new UnsirResult(initializers, afterImpair!, subset.Length, noiseLabels.Length * settings.NoiseCopies, perClass, timings, losses, noise,
            rounds);
    }

    /// <summary>Accuracy of the model with these weights on the given samples.</summary>
    private static double Accuracy(Model model, Dictionary<string, float[]> weights, ClassifierInfo info, ILabeledDataset data,
        IReadOnlyList<int> indices, Device device)
    {
        using var session = Evaluator.OpenSession(model, device, weights);
        var predictions = Evaluator.Predict(session, info, data, Evaluator.DefaultBatchSize, indices);
        return predictions.Where((p, i) => p == data.Labels[indices[i]]).Count() / (double)indices.Count;
    }

    /// <summary>Pinned batch buffers filled from the retained subset (items ≥ 0) and the noise (item −1 − j).</summary>
    private sealed class PhaseBatch(int capacity, int sampleSize, float[] retained, long[] retainedLabels, float[] noise, long[] noiseLabels)
    {
        public float[] Samples { get; } = GC.AllocateUninitializedArray<float>(capacity * sampleSize, pinned: true);
        public long[] Labels { get; } = GC.AllocateUninitializedArray<long>(capacity, pinned: true);

        public int Fill(ReadOnlySpan<int> items)
        {
            for (var k = 0; k < items.Length; k++)
            {
                var item = items[k];
                var (source, label, offset) = item >= 0 ? (retained, retainedLabels[item], item) : (noise, noiseLabels[-1 - item], -1 - item);
                source.AsSpan(offset * sampleSize, sampleSize).CopyTo(Samples.AsSpan(k * sampleSize));
                Labels[k] = label;
            }
            return items.Length;
        }
    }

    /// <summary>Refuses a job UNSIR cannot do: every class forgotten, or a kept class without samples.</summary>
    /// <exception cref="UserInputException">The message names the data and the classes.</exception>
    public static void Validate(ILabeledDataset train, IReadOnlyCollection<int> forgetClasses, int classCount)
    {
        var forget = forgetClasses.ToHashSet();
        if (forget.Count >= classCount)
            throw new UserInputException($"--classes: that is every class of the model; at least one class must be kept");
        var present = train.Labels.ToHashSet();
        var missing = Enumerable.Range(0, classCount).Where(c => !forget.Contains(c) && !present.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new UserInputException($"{train.Source}: no samples of retained class{(missing.Count > 1 ? "es" : "")} {string.Join(", ", missing)}; the repair phase needs some of every class that is kept");
    }
}
