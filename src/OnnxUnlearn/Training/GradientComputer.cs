using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Training;

/// <summary>The loss of one batch and its gradients, named after the tensors they belong to.</summary>
public sealed record GradientResult(float Loss, Dictionary<string, (long[] Dims, float[] Values)> Gradients,
    Dictionary<string, (long[] Dims, float[] Values)> RunningStatistics);

/// <summary>
/// Computes the mean cross-entropy of a batch and its gradient with respect to the parameters or
/// the input (the <c>grad</c> verb: debugging, saliency, Fisher information, and our proof of
/// correctness against PyTorch).
/// </summary>
public static class GradientComputer
{
    public static GradientResult Compute(Model model, IReadOnlyDictionary<string, ValueShape> shapes, float[] samples, long[] labels,
        BatchNormMode batchNorm, bool withRespectToInput, Device device)
    {
        var info = ClassifierInfo.Analyze(model, model.Path ?? "model");
        if (info.FixedBatch is { } fixedBatch && labels.Length != fixedBatch)
            throw new UserInputException($"{model.Path ?? "model"}: input '{info.Input.Name}' has a fixed batch size of {fixedBatch}; gradients of {labels.Length} samples need {fixedBatch}");
        var graph = TrainingGraphBuilder.BuildGradients(model, shapes, batchNorm, withRespectToInput);
        using var session = SessionFactory.Create(graph.Proto, device, graph.ExternalDataFolder);
        var count = labels.Length;
        var feeds = new Dictionary<string, OrtValue>
        {
            [graph.InputName] = OrtValue.CreateTensorValueFromMemory(samples, [count, .. info.Input.SampleDims.Select(d => (long)d)]),
            [graph.LabelsName] = OrtValue.CreateTensorValueFromMemory(labels, [count]),
        };
        foreach (var s in graph.State)
            feeds[s.Name] = OrtValue.CreateTensorValueFromMemory(s.InitialValue, s.Dims);
        try
        {
            var outputNames = session.OutputNames.ToList();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), outputNames);
            var byName = outputNames.Select((n, i) => (n, results[i])).ToDictionary(p => p.n, p => p.Item2);
            var gradients = new Dictionary<string, (long[], float[])>();
            var targets = withRespectToInput ? [info.Input.Name] : model.Graph.Initializers.Select(v => v.Name);
            foreach (var target in targets)
                if (byName.TryGetValue(TrainingGraphBuilder.GradientName(target), out var g))
                    gradients[target] = (g.GetTensorTypeAndShape().Shape, g.GetTensorDataAsSpan<float>().ToArray());
            var running = graph.State.ToDictionary(s => s.Initializer!, s => (s.Dims, byName[s.OutputName].GetTensorDataAsSpan<float>().ToArray()));
            return new GradientResult(byName[TrainingGraph.LossName].GetTensorDataAsSpan<float>()[0], gradients, running);
        }
        finally
        {
            foreach (var v in feeds.Values) v.Dispose();
        }
    }
}
