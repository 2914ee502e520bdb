using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Analysis;

/// <summary>A classifier ready to build training graphs from: a dynamic batch axis and its probed shapes.</summary>
public sealed record TrainableModel(Model Model, ClassifierInfo Info, IReadOnlyDictionary<string, ValueShape> Shapes);

/// <summary>
/// Gives a classifier exported with a fixed batch size (torch.onnx.export without dynamic_axes,
/// tf2onnx with a fixed batch) a dynamic batch axis, for the training, evaluation and noise graphs
/// only: training runs batches of its own sizes, but export writes the original graph with the new
/// weights, so users get back the interface they gave.
/// <para>
/// Exporters bake the batch into shape operands computed from constants: Reshape targets such as
/// [4, 17, 24], and the shape of an Expand (a ViT class token expanded to [4, 1, 24]), Tile or
/// ConstantOfShape. Each such operand whose value (evaluated by ONNX Runtime) starts with the fixed
/// batch becomes Concat(Shape(input)[0], rest), where it really is a batch: a Reshape of a tensor
/// computed from the input (its element count includes the batch), or an Expand/Tile/ConstantOfShape
/// whose result meets such a tensor (its rows must match the batch's). With a fixed batch of 1 this
/// tells the batch apart from broadcast 1s: a position embedding reshaped to [1, 17, 24] is not
/// computed from the input and is left alone.
/// </para>
/// <para>
/// The result is verified rather than trusted: it must run at two other batch sizes with a [batch,
/// classes] output, reproduce the original outputs at the fixed batch, and give the same row for the
/// same sample in a larger batch. Otherwise the model is refused with the advice to re-export it.
/// </para>
/// </summary>
public static class DynamicBatchPass
{
    /// <summary>Shape operands (op type → input index) that can carry a batch written in by the exporter.</summary>
    private static readonly Dictionary<string, int> ShapeOperands = new()
    {
        ["Reshape"] = 1, ["Expand"] = 1, ["Tile"] = 1, ["ConstantOfShape"] = 0,
    };

    /// <summary>Outputs at the fixed batch must match the original to this fraction of their largest
    /// magnitude; the rows of a larger batch to <see cref="RowTolerance"/> (other batch sizes may pick
    /// other matrix kernels, whose rounding differs slightly).</summary>
    private const double SameBatchTolerance = 1e-6, RowTolerance = 1e-4;

    /// <summary>The model with a dynamic batch axis (itself if it has one), its classifier facts and shapes.</summary>
    /// <exception cref="UserInputException">The batch is written into the graph in a way this pass cannot undo.</exception>
    public static TrainableModel Run(Model model, ClassifierInfo info)
    {
        if (info.FixedBatch is not { } batch)
            return new TrainableModel(model, info, ShapeProbe.Run(model, info));
        var name = model.Path ?? "model";
        var rewritten = Rewrite(model, info, batch);
        var rewrittenInfo = ClassifierInfo.Analyze(rewritten, name);
        try
        {
            var shapes = ShapeProbe.Run(rewritten, rewrittenInfo);
            if (shapes[info.Output.Name].Dims is not [-1, _])
                throw Refusal(name, info, batch, $"output '{info.Output.Name}' stays {shapes[info.Output.Name]} at other batch sizes");
            Verify(model, rewritten, info, batch, name);
            return new TrainableModel(rewritten, rewrittenInfo, shapes);
        }
        catch (OnnxRuntimeException e)
        {
            throw Refusal(name, info, batch, $"ONNX Runtime: {e.Message.Split('\n')[0].Trim()}", e);
        }
    }

    private static UserInputException Refusal(string name, ClassifierInfo info, int batch, string reason, Exception? inner = null) =>
        new($"{name}: input '{info.Input.Name}' has a fixed batch size of {batch} that cannot be made dynamic for training ({reason}); " +
            "re-export the model with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={'" + info.Input.Name + "': {0: 'N'}, ...}))", inner);

    /// <summary>A copy with symbolic batch dims on the input and output and the batch operands rebuilt from the input's batch.</summary>
    private static Model Rewrite(Model model, ClassifierInfo info, int batch)
    {
        var copy = Model.FromProto(model.ToProto(), model.Path);
        var graph = copy.Graph;
        graph.TopologicalSort();
        var input = graph[info.Input.Name];
        var fromInput = Reachable(graph, input, throughShapes: true);
        var batchCarrying = Reachable(graph, input, throughShapes: false);
        var operands = graph.Nodes
            .Where(n => n.IsStandard && ShapeOperands.TryGetValue(n.OpType, out var i) && n.Input(i) is { } v && !fromInput.Contains(v))
            .Select(n => (Node: n, Index: ShapeOperands[n.OpType]))
            .ToList();
        var values = Evaluate(model, operands.Select(o => o.Node.Inputs[o.Index]!).Distinct().ToList());

        var b = new GraphBuilder(graph, copy.OpsetVersion, "dynamic_batch");
        Value? batchOfInput = null;
        foreach (var (node, index) in operands)
        {
            if (!values.TryGetValue(node.Inputs[index]!.Name, out var value) || value is not [var first, ..] || first != batch) continue;
            var data = node.OpType == "ConstantOfShape" ? null : node.Inputs[0];
            var isBatch = node.OpType == "Reshape"
                ? batchCarrying.Contains(data!)
                : (data is null || !batchCarrying.Contains(data)) && MeetsBatch(node.Outputs[0], batchCarrying);
            if (!isBatch) continue;
            // Gather with indices [0] keeps a 1-D result and exists at every opset (Shape's start/end need 15).
            batchOfInput ??= b.Op("Gather", [b.Shape(input), b.Ints(0)], Attr.Int("axis", 0));
            node.SetInput(index, value.Length == 1 ? batchOfInput : b.Concat(0, batchOfInput, b.Ints(value[1..])));
        }

        input.Type = TensorTypes.Of(input.ElementType, [-1, .. info.Input.SampleDims.Select(d => (long)d)], "N");
        var output = graph[info.Output.Name];
        output.Type = TensorTypes.Of(output.ElementType, [-1, info.ClassCount], "N");
        // Declared intermediate shapes may hold the fixed batch too; ONNX Runtime infers them again.
        graph.Extra.ValueInfo.Clear();
        graph.RemoveDeadNodes();
        graph.TopologicalSort();
        return copy;
    }

    /// <summary>The values computed from <paramref name="start"/>; without <paramref name="throughShapes"/>
    /// a Shape or Size output ends the walk (it describes the batch, it holds no sample data).</summary>
    private static HashSet<Value> Reachable(Graph graph, Value start, bool throughShapes)
    {
        var reached = new HashSet<Value> { start };
        foreach (var node in graph.Nodes)
            if ((throughShapes || node.OpType is not ("Shape" or "Size")) && graph.NodeDependencies(node).Any(reached.Contains))
                reached.UnionWith(node.Outputs);
        return reached;
    }

    /// <summary>Whether <paramref name="value"/>, through values not computed from the input, reaches a node that also reads one that is.</summary>
    private static bool MeetsBatch(Value value, HashSet<Value> batchCarrying)
    {
        var seen = new HashSet<Value>();
        var pending = new Stack<Value>([value]);
        while (pending.TryPop(out var v))
            foreach (var use in v.Uses)
            {
                if (use.Node.Inputs.Any(i => i is not null && batchCarrying.Contains(i))) return true;
                foreach (var output in use.Node.Outputs)
                    if (seen.Add(output)) pending.Push(output);
            }
        return false;
    }

    /// <summary>The int64 values of operands computed from constants alone: initializers as stored,
    /// the others by ONNX Runtime on the graph cut down to them (no per-op folding code of our own).</summary>
    private static Dictionary<string, long[]> Evaluate(Model model, List<Value> operands)
    {
        var values = operands.Where(v => v.Initializer is { ElementType: TensorProto.Types.DataType.Int64 })
            .ToDictionary(v => v.Name, v => v.Initializer!.ToInt64Array());
        var names = operands.Where(v => v.Initializer is null).Select(v => v.Name).ToList();
        if (names.Count == 0) return values;
        var cut = Model.FromProto(model.ToProto(), model.Path);
        cut.Graph.Outputs.Clear();
        cut.Graph.Outputs.AddRange(names.Select(n => cut.Graph[n]));
        cut.Graph.RemoveDeadNodes();
        cut.Graph.Inputs.RemoveAll(v => v.Initializer is null);
        using var session = SessionFactory.Create(cut.ToProto(), Device.Cpu(1), model.Graph.Initializers.FirstOrDefault()?.Initializer?.BaseDirectory,
            GraphOptimizationLevel.ORT_DISABLE_ALL);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [], [], names);
        for (var i = 0; i < names.Count; i++)
            if (results[i].GetTensorTypeAndShape().ElementDataType == TensorElementType.Int64)
                values[names[i]] = results[i].GetTensorDataAsSpan<long>().ToArray();
        return values;
    }

    /// <summary>
    /// Same outputs as the original at the fixed batch (the rewrite changed nothing it computes), and
    /// for a batch one larger the same rows for the same samples (the rebuilt shapes follow the batch).
    /// </summary>
    private static void Verify(Model original, Model rewritten, ClassifierInfo info, int batch, string name)
    {
        var random = new Random(batch);
        var samples = new float[(batch + 1) * info.Input.SampleSize];
        for (var i = 0; i < samples.Length; i++)
            samples[i] = (float)(random.NextDouble() * 2 - 1);
        var expected = Outputs(original, info, samples, batch)[0];
        var runs = Outputs(rewritten, info, samples, batch, batch + 1);
        var (same, larger) = (runs[0], runs[1]);
        var scale = Math.Max(expected.Max(Math.Abs), 1e-12f);
        var sameError = expected.Select((e, i) => Math.Abs(e - same[i])).Max() / scale;
        if (sameError > SameBatchTolerance)
            throw Refusal(name, info, batch, $"the rewritten graph's outputs differ from the original's by {sameError:G3} of their largest magnitude");
        var rowError = expected.Select((e, i) => Math.Abs(e - larger[i])).Max() / scale;
        if (rowError > RowTolerance)
            throw Refusal(name, info, batch, $"at batch size {batch + 1} a sample's output differs from its output at {batch} by {rowError:G3} of the largest magnitude");
    }

    /// <summary>The model's outputs for the first <paramref name="counts"/> samples, one run per count.</summary>
    private static float[][] Outputs(Model model, ClassifierInfo info, float[] samples, params int[] counts)
    {
        using var session = SessionFactory.Create(model.ToProto(), Device.Cpu(1), model.Graph.Initializers.FirstOrDefault()?.Initializer?.BaseDirectory,
            GraphOptimizationLevel.ORT_DISABLE_ALL);
        using var runOptions = new RunOptions();
        return counts.Select(count =>
        {
            using var feed = OrtValue.CreateTensorValueFromMemory(samples[..(count * info.Input.SampleSize)], [count, .. info.Input.SampleDims.Select(d => (long)d)]);
            using var outputs = session.Run(runOptions, [info.Input.Name], [feed], [info.Output.Name]);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }).ToArray();
    }
}
