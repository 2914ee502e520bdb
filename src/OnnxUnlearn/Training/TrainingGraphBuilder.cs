using System.Text.RegularExpressions;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Training.Losses;
using OnnxUnlearn.Training.Optimizers;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Training;

/// <summary>How BatchNormalization layers behave in a training graph.</summary>
public enum BatchNormMode
{
    /// <summary>Batch statistics; running statistics updated with the node's momentum (PyTorch train mode).</summary>
    Train,
    /// <summary>Batch statistics; running statistics left as they are.</summary>
    Batch,
    /// <summary>Running statistics, an affine map (PyTorch eval mode).</summary>
    Frozen,
}

/// <summary>What a training graph minimises.</summary>
public abstract record Objective
{
    /// <summary>Cross-entropy of the model's predictions; the model's parameters are trained.</summary>
    public sealed record Classification(LossOptions Loss) : Objective;

    /// <summary>
    /// UNSIR's error-maximising noise: the model is frozen and its input is trained to minimise
    /// −CE(f(noise), y) + λ·mean_batch(Σ noise²), for a noise batch of <paramref name="BatchSize"/> samples.
    /// </summary>
    public sealed record NoiseMaximization(float L2Weight, int BatchSize) : Objective;
}

public sealed record TrainingGraphOptions
{
    public Objective Objective { get; init; } = new Objective.Classification(new LossOptions());
    public OptimizerSettings Optimizer { get; init; } = new();
    public BatchNormMode BatchNorm { get; init; } = BatchNormMode.Train;

    /// <summary>Initializer name globs (* and ?) to keep fixed.</summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];

    /// <summary>If non-empty, only initializers matching one of these globs are trained.</summary>
    public IReadOnlyList<string> Trainable { get; init; } = [];

    /// <summary>
    /// Current values of initializers, by name, in place of the model's own (e.g. the weights an
    /// earlier phase left). They are not copied: a trained tensor starts from its array
    /// (<see cref="StateTensor.InitialValue"/>), which the <see cref="Trainer"/> updates in place, and
    /// the others are handed to the training session as they are.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> Weights { get; init; } = new Dictionary<string, float[]>();
}

/// <summary>
/// Turns an inference classifier into a <see cref="TrainingGraph"/>: trainable initializers become
/// inputs, BatchNormalization is switched to batch statistics as asked, the loss and its gradient
/// are appended, the backward graph is built by <see cref="Backward"/>, and the optimizer update
/// closes the step. Everything is standard ONNX at the model's own opset.
/// </summary>
public static class TrainingGraphBuilder
{
    public static TrainingGraph Build(Model source, IReadOnlyDictionary<string, ValueShape> shapes, TrainingGraphOptions options)
    {
        var d = Differentiate(source, shapes, options, withRespectToInput: false, promoteParameters: true);
        // Training feeds batches of its own sizes (noise, impair, repair, the last partial batch);
        // a batch the exporter wrote into the graph (Reshape targets included) cannot take them.
        if (d.Info.FixedBatch is { } fixedBatch)
            throw new ArgumentException($"{source.Path ?? "model"}: input '{d.Info.Input.Name}' has a fixed batch size of {fixedBatch}; " +
                "give training graphs the model from DynamicBatchPass.Run", nameof(source));
        var b = d.Builder;
        var graph = b.Graph;
        var learningRate = graph.AddInput(TrainingGraph.LearningRateName, TensorTypes.Float());
        var step = graph.AddInput(TrainingGraph.StepName, TensorTypes.Float());

        b.Prefix = "optimizer";
        var optimizer = options.Optimizer;
        var isNoise = options.Objective is Objective.NoiseMaximization;
        long[] Dims(Value parameter) => options.Objective is Objective.NoiseMaximization n
            ? [n.BatchSize, .. d.Info.Input.SampleDims.Select(x => (long)x)]
            : shapes[parameter.Name].Dims;
        long Size(Value parameter) => Dims(parameter).Aggregate(1L, (x, y) => x * y);
        var buckets = Buckets(d.Gradients.Keys.ToList(), Size);
        // One flat gradient per bucket of several parameters (their gradients concatenated), else the
        // parameter's own; clipping sees all of them at once.
        var gradients = optimizer.Clip(b, [.. buckets.Select(bucket => bucket.Count == 1
            ? d.Gradients[bucket[0]]
            : b.Concat(0, [.. bucket.Select(p => b.Reshape(d.Gradients[p], b.Ints(-1)))]))]);
        var stepInputs = optimizer.EmitStepInputs(b, learningRate, step);
        for (var k = 0; k < buckets.Count; k++)
        {
            var bucket = buckets[k];
            var sizes = bucket.Select(Size).ToArray();
            var (slotName, slotDims) = bucket.Count == 1 ? (bucket[0].Name, Dims(bucket[0])) : ($"optimizer.bucket{k}", [sizes.Sum()]);
            var slots = optimizer.StateSlots.Select(slot => graph.AddInput($"{slotName}.{slot}", TensorTypes.Float(slotDims))).ToArray();
            var current = bucket.Count == 1 ? bucket[0] : b.Concat(0, [.. bucket.Select(p => b.Reshape(p, b.Ints(-1)))]);
            var (updated, newSlots) = optimizer.EmitUpdate(b, current, gradients[k], slots, stepInputs);
            var parts = bucket.Count == 1 ? [updated] : b.Split(updated, 0, sizes).Select((part, i) => b.Reshape(part, b.Ints(Dims(bucket[i])))).ToArray();
            for (var i = 0; i < bucket.Count; i++)
            {
                var parameter = bucket[i];
                var initial = isNoise ? new float[sizes[i]] : InitialValue(source.Graph[parameter.Name], options);
                d.State.Add(Carry(b, parameter, parts[i], Dims(parameter), StateKind.Parameter, isNoise ? null : parameter.Name, initial, d.Outputs));
            }
            for (var s = 0; s < slots.Length; s++)
                d.State.Add(Carry(b, slots[s], newSlots[s], slotDims, StateKind.OptimizerState, null, new float[sizes.Sum()], d.Outputs));
        }
        return d.Finish(source, options.Weights);
    }

    /// <summary>
    /// A graph that outputs the cross-entropy loss and its gradient, "&lt;name&gt;_grad", with respect
    /// to every trainable parameter (or, with <paramref name="withRespectToInput"/>, the model input);
    /// with <see cref="BatchNormMode.Train"/> it also outputs the updated running statistics (state).
    /// </summary>
    public static TrainingGraph BuildGradients(Model source, IReadOnlyDictionary<string, ValueShape> shapes, BatchNormMode batchNorm,
        bool withRespectToInput, LossOptions? loss = null)
    {
        var options = new TrainingGraphOptions { BatchNorm = batchNorm, Objective = new Objective.Classification(loss ?? new LossOptions()) };
        var d = Differentiate(source, shapes, options, withRespectToInput, promoteParameters: false);
        foreach (var (target, gradient) in d.Gradients)
            d.Outputs.Add(d.Builder.Graph.AddNode("Identity", [gradient], 1, null, $"grad/{target.Name}",
                outputNames: [d.Builder.Graph.UniqueName(GradientName(target.Name))]).Outputs[0]);
        return d.Finish(source, options.Weights);
    }

    /// <summary>The output name of a gradient in a gradient graph.</summary>
    public static string GradientName(string target) => target + "_grad";

    /// <summary>The forward graph with the loss and the backward graph, before any update is added.</summary>
    private sealed record Differentiated(GraphBuilder Builder, Model Model, ClassifierInfo Info, Value Loss, Value Labels,
        Dictionary<Value, Value> Gradients, List<StateTensor> State, List<Value> Outputs)
    {
        public TrainingGraph Finish(Model source, IReadOnlyDictionary<string, float[]> weights)
        {
            var graph = Builder.Graph;
            graph.Outputs.Clear();
            graph.Outputs.Add(graph.AddNode("Identity", [Loss], 1, null, "loss/output", outputNames: [TrainingGraph.LossName]).Outputs[0]);
            graph.Outputs.AddRange(Outputs);
            graph.RemoveDeadNodes();
            graph.TopologicalSort();
            return new TrainingGraph
            {
                Proto = Model.ToProto(),
                InputName = Info.Input.Name,
                LabelsName = Labels.Name,
                State = State,
                Weights = weights,
                ExternalDataFolder = source.Graph.Initializers.FirstOrDefault()?.Initializer?.BaseDirectory,
            };
        }
    }

    private static Differentiated Differentiate(Model source, IReadOnlyDictionary<string, ValueShape> shapes, TrainingGraphOptions options,
        bool withRespectToInput, bool promoteParameters)
    {
        var model = Model.FromProto(source.ToProto(), source.Path);
        var graph = model.Graph;
        var info = ClassifierInfo.Analyze(model, source.Path ?? "model");
        var b = new GraphBuilder(graph, model.OpsetVersion, "train");
        var state = new List<StateTensor>();
        var outputs = new List<Value>();

        var runningStatistics = new HashSet<Value>();
        var batchStatisticsNodes = new Dictionary<Node, Value>();
        foreach (var bn in graph.Nodes.Where(n => n.OpType == "BatchNormalization" && n.IsStandard).ToList())
        {
            runningStatistics.Add(bn.Inputs[3]!);
            runningStatistics.Add(bn.Inputs[4]!);
            if (options.BatchNorm != BatchNormMode.Frozen)
                UseBatchStatistics(b, bn, options, shapes, state, outputs, batchStatisticsNodes);
        }

        var labels = graph.AddInput("labels", TensorTypes.Of(DataType.Int64, [-1]));
        b.Prefix = "loss";
        var backwardOptions = new BackwardOptions { BatchStatisticsNodes = batchStatisticsNodes };
        switch (options.Objective)
        {
            case Objective.Classification classification:
            {
                var (loss, dLogits) = CrossEntropy.Emit(b, info.Logits, labels, info.ClassCount, classification.Loss);
                IReadOnlyCollection<Value> targets = withRespectToInput
                    ? [info.InputValue]
                    : graph.Initializers.Where(v => IsTrainable(v, runningStatistics, options)).ToList();
                b.Prefix = "grad";
                var gradients = Backward.Build(b, new Dictionary<Value, Value> { [info.Logits] = dLogits }, targets, shapes, backwardOptions);
                if (promoteParameters)
                    foreach (var parameter in gradients.Keys.Where(v => v.Initializer is not null))
                        PromoteToInput(graph, parameter);
                return new Differentiated(b, model, info, loss, labels, gradients, state, outputs);
            }
            case Objective.NoiseMaximization noise:
            {
                // L = −CE + λ·mean_batch(Σ x²);  dL/dz = −dCE/dz;  dL/dx gets + 2λ·x / N
                var (ce, dLogits) = CrossEntropy.Emit(b, info.Logits, labels, info.ClassCount, new LossOptions());
                var x = info.InputValue;
                var sampleAxes = Enumerable.Range(1, info.Input.SampleDims.Length).Select(a => (long)a).ToArray();
                var batch = b.Cast(b.Op("Size", labels), DataType.Float);
                var l2 = b.Div(b.ReduceSum(b.ReduceSum(b.Mul(x, x), sampleAxes, keepDims: false), [0], keepDims: false), batch);
                var loss = b.Add(b.Neg(ce), b.Mul(l2, b.Scalar(noise.L2Weight)));
                b.Prefix = "grad";
                var gradients = Backward.Build(b, new Dictionary<Value, Value> { [info.Logits] = b.Neg(dLogits) }, [x], shapes, backwardOptions);
                var l2Gradient = b.Mul(x, b.Div(b.Scalar(2 * noise.L2Weight), batch));
                gradients[x] = gradients.TryGetValue(x, out var g) ? b.Add(g, l2Gradient) : l2Gradient;
                return new Differentiated(b, model, info, loss, labels, gradients, state, outputs);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(options));
        }
    }

    /// <summary>
    /// Feeds the node its input's batch mean and (biased) variance instead of the running statistics;
    /// with <see cref="BatchNormMode.Train"/> the running statistics become state updated as
    /// r' = momentum·r + (1 − momentum)·s, with the unbiased variance (as PyTorch does).
    /// </summary>
    private static void UseBatchStatistics(GraphBuilder b, Node bn, TrainingGraphOptions options, IReadOnlyDictionary<string, ValueShape> shapes,
        List<StateTensor> state, List<Value> outputs, Dictionary<Node, Value> batchStatisticsNodes)
    {
        b.Prefix = $"bn/{bn.Name}";
        var x = bn.Inputs[0]!;
        var rank = shapes[x.Name].Rank;
        var axes = new long[] { 0 }.Concat(Enumerable.Range(2, rank - 2).Select(a => (long)a)).ToArray();
        var mean = b.Reduce("ReduceMean", x, axes, keepDims: true);
        var centered = b.Sub(x, mean);
        var variance = b.Squeeze(b.Reduce("ReduceMean", b.Mul(centered, centered), axes, keepDims: true), axes);
        mean = b.Squeeze(mean, axes);
        var runningMean = bn.Inputs[3]!;
        var runningVar = bn.Inputs[4]!;
        bn.SetInput(3, mean);
        bn.SetInput(4, variance);
        batchStatisticsNodes[bn] = centered;
        if (options.BatchNorm != BatchNormMode.Train) return;

        var momentum = bn.GetFloat("momentum", 0.9f);
        var channels = shapes[runningMean.Name].Dims[0];
        var count = b.Div(b.Cast(b.Op("Size", x), DataType.Float), b.Scalar(channels));
        var unbiased = b.Mul(variance, b.Div(count, b.Sub(count, b.Scalar(1))));
        foreach (var (running, batchValue) in new[] { (runningMean, mean), (runningVar, unbiased) })
        {
            var initial = InitialValue(running, options);
            PromoteToInput(b.Graph, running);
            var updated = b.Add(b.Mul(running, b.Scalar(momentum)), b.Mul(batchValue, b.Scalar(1 - momentum)));
            state.Add(Carry(b, running, updated, [channels], StateKind.RunningStatistic, running.Name, initial, outputs));
        }
    }

    private static StateTensor Carry(GraphBuilder b, Value input, Value next, long[] dims, StateKind kind, string? initializer, float[] initial, List<Value> outputs)
    {
        var output = b.Graph.AddNode("Identity", [next], 1, null, $"state/{input.Name}", outputNames: [b.Graph.UniqueName(input.Name + ".next")]).Outputs[0];
        outputs.Add(output);
        return new StateTensor(input.Name, output.Name, dims, kind, initializer, initial);
    }

    /// <summary>Parameters of up to this many values in all share one flat optimizer update.</summary>
    internal const long BucketValues = 1 << 20;

    /// <summary>
    /// Groups parameters, in order, into buckets of at most <see cref="BucketValues"/> values; a
    /// larger parameter is a bucket of its own. A bucket of several is updated as one flat vector
    /// (concatenated, updated, split): the optimizer is then a dozen nodes per bucket instead of per
    /// parameter. On a GPU a small model's step is bound by ONNX Runtime's host time per node (15–25 µs
    /// on an H200 machine), and the copies stay small next to the model's own work.
    /// </summary>
    internal static List<List<Value>> Buckets(List<Value> parameters, Func<Value, long> size)
    {
        var buckets = new List<List<Value>>();
        var open = new List<Value>();
        long openSize = 0;
        foreach (var p in parameters)
        {
            var n = size(p);
            if (n > BucketValues)
            {
                buckets.Add([p]);
                continue;
            }
            if (openSize + n > BucketValues)
            {
                buckets.Add(open);
                (open, openSize) = ([], 0);
            }
            open.Add(p);
            openSize += n;
        }
        if (open.Count > 0) buckets.Add(open);
        return buckets;
    }

    /// <summary>The array a state tensor starts from: the caller's current value of the initializer, else the model's (a fresh copy).</summary>
    private static float[] InitialValue(Value initializer, TrainingGraphOptions options) =>
        options.Weights.TryGetValue(initializer.Name, out var values) ? values : initializer.Initializer!.ToFloatArray();

    private static void PromoteToInput(Graph graph, Value value)
    {
        var data = value.Initializer!;
        graph.Initializers.Remove(value);
        value.Initializer = null;
        value.Type = TensorTypes.Float(data.Dims);
        // IR version 3 (torch at opsets 7 and 8, CNTK, MXNet) lists every initializer as a graph input too
        if (!graph.Inputs.Contains(value)) graph.Inputs.Add(value);
    }

    private static bool IsTrainable(Value value, HashSet<Value> runningStatistics, TrainingGraphOptions options)
    {
        var data = value.Initializer!;
        if (!data.IsFloatingPoint || runningStatistics.Contains(value)) return false;
        if (data.ElementCount <= 1 && !value.Uses.Any(u => u.Node.OpType == "PRelu")) return false;
        if (options.Freeze.Any(g => Glob(g).IsMatch(value.Name))) return false;
        return options.Trainable.Count == 0 || options.Trainable.Any(g => Glob(g).IsMatch(value.Name));
    }

    private static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.CultureInvariant);
}
