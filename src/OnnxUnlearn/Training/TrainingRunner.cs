using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Training;

public sealed record TrainingRunSettings
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 256;
    public float LearningRate { get; init; } = 1e-3f;
    public int Seed { get; init; }
}

/// <summary>
/// Fine-tunes (or trains from scratch) a model for some epochs over given samples of a data set:
/// a fresh shuffle per epoch from the seed, batches decoded ahead by a <see cref="BatchReader"/>
/// while the previous step runs.
/// </summary>
public static class TrainingRunner
{
    public static (Dictionary<string, float[]> Initializers, List<float> Losses) Run(Model model, IReadOnlyDictionary<string, ValueShape> shapes,
        TrainingGraphOptions options, ILabeledDataset data, IReadOnlyList<int> samples, TrainingRunSettings settings, Device device,
        ITrainingProgress? progress = null, IReadOnlyDictionary<string, float[]>? initialState = null)
    {
        var graph = TrainingGraphBuilder.Build(model, shapes, options);
        using var trainer = new Trainer(graph, device, initialState);
        long[] sampleDims = [.. data.Target.SampleDims.Select(d => (long)d)];
        var stepsPerEpoch = (samples.Count + settings.BatchSize - 1) / settings.BatchSize;
        var losses = new List<float>();
        for (var epoch = 0; epoch < settings.Epochs; epoch++)
        {
            using var reader = new BatchReader(data, Sampling.Shuffle(samples, unchecked(settings.Seed * 1000 + epoch)), settings.BatchSize);
            foreach (var batch in reader.ReadAll())
            {
                var loss = trainer.Step(batch.Samples, batch.Labels, batch.Count, sampleDims, settings.LearningRate, "training");
                reader.Return(batch);
                losses.Add(loss);
                progress?.Report($"epoch {epoch + 1}/{settings.Epochs}", batch.Number + 1, stepsPerEpoch, loss);
            }
        }
        return (trainer.ReadInitializers(), losses);
    }
}
