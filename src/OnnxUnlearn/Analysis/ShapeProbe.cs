using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Analysis;

/// <summary>Element type and dims of one value; a dim of -1 grows with the batch size.</summary>
public sealed record ValueShape(TensorProto.Types.DataType ElementType, long[] Dims)
{
    public int Rank => Dims.Length;
    public override string ToString() => $"{ElementType}[{string.Join(",", Dims)}]";
}

/// <summary>
/// Learns the shape of every value in a classifier by running it: every intermediate value becomes
/// an output of a throw-away copy of the graph, which ONNX Runtime runs on random batches of two
/// sizes. Dims that differ between the runs scale with the batch and are recorded as -1. This needs
/// no shape-inference code per operator and sees exactly what the runtime computes.
/// </summary>
public static class ShapeProbe
{
    private static readonly int[] ProbeBatchSizes = [2, 3];

    /// <summary>Probes a classifier with random batches of two sizes, or of its fixed batch size
    /// (then every dim is a number).</summary>
    public static IReadOnlyDictionary<string, ValueShape> Run(Model model, ClassifierInfo classifier)
    {
        int[] batchSizes = classifier.FixedBatch is { } fixedBatch ? [fixedBatch] : ProbeBatchSizes;
        var feeds = batchSizes.Select(batch =>
        {
            var random = new Random(batch);
            var data = new float[batch * classifier.Input.SampleSize];
            for (var i = 0; i < data.Length; i++)
                data[i] = (float)(random.NextDouble() * 2 - 1);
            long[] shape = [batch, .. classifier.Input.SampleDims.Select(d => (long)d)];
            return new Dictionary<string, OrtValue> { [classifier.Input.Name] = OrtValue.CreateTensorValueFromMemory(data, shape) };
        }).ToList();
        try
        {
            var shapes = Run(model, feeds);
            shapes[classifier.InputValue.Name] = new ValueShape(TensorProto.Types.DataType.Float, [classifier.FixedBatch ?? -1, .. classifier.Input.SampleDims.Select(d => (long)d)]);
            return shapes;
        }
        finally
        {
            foreach (var value in feeds.SelectMany(f => f.Values)) value.Dispose();
        }
    }

    /// <summary>
    /// Runs the model once per feed set and records every value's shape; dims that differ between
    /// runs are -1. Graph inputs and initializers are included. The caller keeps ownership of the feeds.
    /// </summary>
    public static Dictionary<string, ValueShape> Run(Model model, IReadOnlyList<IReadOnlyDictionary<string, OrtValue>> feedSets)
    {
        var proto = model.ToProto();
        var graph = proto.Graph;
        var listed = new HashSet<string>(graph.Output.Select(o => o.Name));
        foreach (var name in graph.Node.SelectMany(n => n.Output))
            if (name.Length > 0 && listed.Add(name))
                graph.Output.Add(new ValueInfoProto { Name = name });

        using var session = SessionFactory.Create(proto, Device.Cpu(1), model.Graph.Initializers.FirstOrDefault()?.Initializer?.BaseDirectory,
            GraphOptimizationLevel.ORT_DISABLE_ALL);
        var outputNames = session.OutputNames.ToList();
        var runs = feedSets.Select(feeds => RunOnce(session, feeds, outputNames)).ToArray();

        var shapes = new Dictionary<string, ValueShape>(StringComparer.Ordinal);
        foreach (var name in outputNames)
        {
            if (!runs.All(r => r.ContainsKey(name))) continue;
            var first = runs[0][name];
            var dims = (long[])first.Dims.Clone();
            foreach (var run in runs.Skip(1))
                for (var a = 0; a < dims.Length && a < run[name].Dims.Length; a++)
                    if (run[name].Dims[a] != dims[a]) dims[a] = -1;
            shapes[name] = new ValueShape(first.ElementType, dims);
        }
        foreach (var value in model.Graph.Initializers)
            shapes[value.Name] = new ValueShape(value.Initializer!.ElementType, value.Initializer.Dims);
        foreach (var (name, value) in feedSets[0])
        {
            var info = value.GetTensorTypeAndShape();
            var dims = (long[])info.Shape.Clone();
            foreach (var feeds in feedSets.Skip(1))
                for (var a = 0; a < dims.Length; a++)
                    if (feeds[name].GetTensorTypeAndShape().Shape[a] != dims[a]) dims[a] = -1;
            shapes[name] = new ValueShape((TensorProto.Types.DataType)(int)info.ElementDataType, dims);
        }
        return shapes;
    }

    private static Dictionary<string, ValueShape> RunOnce(InferenceSession session, IReadOnlyDictionary<string, OrtValue> feeds, List<string> outputNames)
    {
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), outputNames);
        var shapes = new Dictionary<string, ValueShape>(StringComparer.Ordinal);
        for (var i = 0; i < outputNames.Count; i++)
        {
            var value = results[i];
            if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR) continue;
            var info = value.GetTensorTypeAndShape();
            shapes[outputNames[i]] = new ValueShape((TensorProto.Types.DataType)(int)info.ElementDataType, info.Shape);
        }
        return shapes;
    }
}
