using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>
/// Checks gradient rules numerically through ONNX Runtime itself. A test builds a small graph whose
/// float inputs are the tensors to differentiate; the checker takes L = Σ_k ⟨R_k, Y_k⟩ over the
/// outputs with fixed random R_k, builds the backward graph with seeds dL/dY_k = R_k, and compares
/// the analytic directional derivative ⟨∇L, v⟩ with the central difference
/// (L(x + εv) − L(x − εv)) / 2ε for random directions v (and every coordinate of small inputs).
/// </summary>
public sealed class GradientChecker
{
    private readonly Graph _graph = new("check");
    private readonly Dictionary<string, float[]> _inputs = new();
    private readonly Dictionary<string, long[]> _dims = new();
    private readonly HashSet<string> _batched = [];
    private readonly Random _random;

    public GradientChecker(int opset = 17, int seed = 1)
    {
        Opset = opset;
        _random = new Random(seed);
        Builder = new GraphBuilder(_graph, opset, "fwd");
    }

    public int Opset { get; }

    /// <summary>Emits the forward graph.</summary>
    public GraphBuilder Builder { get; }

    /// <summary>A float input filled with values uniform in [low, high], kept at least
    /// <paramref name="awayFromZero"/> from 0 (kinks of Relu, Abs, Max...).</summary>
    public Value Input(string name, long[] dims, float low = -1, float high = 1, float awayFromZero = 0)
    {
        var data = new float[dims.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < data.Length; i++)
        {
            float v;
            do v = (float)(low + (high - low) * _random.NextDouble());
            while (Math.Abs(v) < awayFromZero);
            data[i] = v;
        }
        return Input(name, dims, data);
    }

    /// <summary>A float input uniform in [low, high] kept at least <paramref name="margin"/> from every
    /// kink (where the function is not smooth: ±3 for HardSwish, the threshold of ThresholdedRelu...).</summary>
    public Value InputAvoiding(string name, long[] dims, float low, float high, float[] kinks, float margin = 0.05f)
    {
        var data = new float[dims.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < data.Length; i++)
        {
            float v;
            do v = (float)(low + (high - low) * _random.NextDouble());
            while (kinks.Any(k => Math.Abs(v - k) < margin));
            data[i] = v;
        }
        return Input(name, dims, data);
    }

    /// <summary>A float input holding a random permutation of evenly spaced values in [−1, 1], so
    /// no two elements are closer than 2/n: a small perturbation cannot change an argmax (MaxPool).</summary>
    public Value DistinctInput(string name, long[] dims)
    {
        var n = (int)dims.Aggregate(1L, (a, b) => a * b);
        var data = Enumerable.Range(0, n).Select(i => -1f + 2f * i / (n - 1)).ToArray();
        _random.Shuffle(data);
        return Input(name, dims, data);
    }

    public Value Input(string name, long[] dims, float[] data)
    {
        _inputs[name] = data;
        _dims[name] = dims;
        return _graph.AddInput(name, TensorTypes.Float(dims));
    }

    /// <summary>
    /// Declares the first dim of <paramref name="input"/> a batch dim: the shape probe then also runs
    /// a batch one larger, so every dim that follows the batch reaches the rules as -1, as it does for
    /// a real model. Returns the input.
    /// </summary>
    public Value Batched(Value input)
    {
        _batched.Add(input.Name);
        input.Type = TensorTypes.Float([-1, .. _dims[input.Name][1..]]);
        return input;
    }

    /// <summary>A constant (not differentiated) int64 or float tensor.</summary>
    public Value Constant(TensorData data) => _graph.AddInitializer(data);

    public void Output(Value value) => _graph.Outputs.Add(value);

    /// <summary>The analytic gradient of L with respect to each input (or those in <paramref name="only"/>),
    /// by input name; the seeds R_k are drawn as <see cref="Check"/> draws them.</summary>
    public Dictionary<string, float[]> Gradients(IReadOnlyCollection<string>? only = null)
    {
        var analysis = Analyze(only);
        analysis.Forward.Dispose();
        return analysis.Targets.Select((t, i) => (t.Name, Gradient: analysis.Analytic[i])).ToDictionary(p => p.Name, p => p.Gradient);
    }

    /// <summary>Runs the check and returns the worst relative error over all inputs and directions.</summary>
    public double Check(int directions = 4, double epsilon = 1e-2, IReadOnlyCollection<string>? only = null, int coordinateLimit = 24)
    {
        var analysis = Analyze(only);
        using var forwardSession = analysis.Forward;
        var (seeds, dims, targets, analytic) = (analysis.Seeds, analysis.Dims, analysis.Targets, analysis.Analytic);

        double Loss(Dictionary<string, float[]> inputs)
        {
            var outputs = RunAll(forwardSession, inputs, dims, _graph.Outputs.Select(o => o.Name).ToList());
            double sum = 0;
            for (var k = 0; k < outputs.Count; k++)
            {
                var r = seeds[_graph.Outputs[k].Name];
                for (var i = 0; i < r.Length; i++) sum += (double)r[i] * outputs[k][i];
            }
            return sum;
        }

        double worst = 0;
        for (var t = 0; t < targets.Count; t++)
        {
            var name = targets[t].Name;
            var x = _inputs[name];
            var g = analytic[t];
            Assert.That(g, Has.Length.EqualTo(x.Length), $"gradient of '{name}' has the wrong size");
            var probes = new List<float[]>();
            for (var d = 0; d < directions; d++) probes.Add(RandomArray(x.Length));
            if (x.Length <= coordinateLimit)
                for (var i = 0; i < x.Length; i++)
                {
                    var e = new float[x.Length];
                    e[i] = 1;
                    probes.Add(e);
                }
            foreach (var v in probes)
            {
                double predicted = 0;
                for (var i = 0; i < x.Length; i++) predicted += (double)g[i] * v[i];
                var plus = new Dictionary<string, float[]>(_inputs) { [name] = Shift(x, v, epsilon) };
                var minus = new Dictionary<string, float[]>(_inputs) { [name] = Shift(x, v, -epsilon) };
                var numeric = (Loss(plus) - Loss(minus)) / (2 * epsilon);
                var scale = Math.Max(1.0, Math.Max(Math.Abs(numeric), Math.Abs(predicted)));
                var error = Math.Abs(numeric - predicted) / scale;
                worst = Math.Max(worst, error);
                TestContext.Out.WriteLine($"{name}: analytic {predicted:G6} numeric {numeric:G6} rel.err {error:G3}");
            }
        }
        var fixture = TestContext.CurrentContext.Test.ClassName ?? "?";
        WorstByFixture.AddOrUpdate(fixture, worst, (_, previous) => Math.Max(previous, worst));
        TestContext.Out.WriteLine($"worst rel.err {worst:G3}");
        return worst;
    }

    /// <summary>The forward session, the seeds, every feed's dims, the targets and their analytic
    /// gradients (in target order).</summary>
    private (InferenceSession Forward, Dictionary<string, float[]> Seeds, Dictionary<string, long[]> Dims, List<Value> Targets, List<float[]> Analytic)
        Analyze(IReadOnlyCollection<string>? only)
    {
        var header = new ModelProto { IrVersion = 8, ProducerName = "test" };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        var forward = new Model(header, _graph);
        var forwardProto = forward.ToProto();

        using var feeds = new Feeds(_inputs, _dims);
        var larger = _inputs.ToDictionary(p => p.Key, p => _batched.Contains(p.Key)
            ? RandomArray(p.Value.Length / _dims[p.Key][0] * (_dims[p.Key][0] + 1))
            : p.Value);
        using var largerFeeds = new Feeds(larger, _dims.ToDictionary(p => p.Key, p => _batched.Contains(p.Key) ? [p.Value[0] + 1, .. p.Value[1..]] : p.Value));
        var shapes = ShapeProbe.Run(forward, _batched.Count > 0 ? [feeds.Values, largerFeeds.Values] : [feeds.Values]);
        var forwardSession = new InferenceSession(forwardProto.ToByteArray());

        // Seeds R_k, fixed random, shaped as the outputs of the given batch.
        var outputDims = RunShapes(forwardSession, feeds, _graph.Outputs.Select(o => o.Name).ToList());
        var seeds = _graph.Outputs.ToDictionary(o => o.Name, o => RandomArray(outputDims[o.Name].Aggregate(1L, (a, b) => a * b)));
        var dims = new Dictionary<string, long[]>(_dims);
        foreach (var output in _graph.Outputs) dims[output.Name + "_seed"] = outputDims[output.Name];

        // Backward graph: seeds are extra inputs, gradients extra outputs.
        var model = Model.FromProto(forwardProto);
        var graph = model.Graph;
        var builder = new GraphBuilder(graph, Opset, "grad");
        var seedValues = new Dictionary<Value, Value>();
        foreach (var output in graph.Outputs.ToList())
            seedValues[output] = graph.AddInput(output.Name + "_seed", TensorTypes.Float(shapes[output.Name].Dims));
        var targets = graph.RealInputs.Where(v => _inputs.ContainsKey(v.Name) && (only is null || only.Contains(v.Name))).ToList();
        var grads = Backward.Build(builder, seedValues, targets, shapes);
        Assert.That(grads.Keys, Is.EquivalentTo(targets), "every input must receive a gradient");
        var gradOutputs = new List<string>();
        foreach (var target in targets)
        {
            graph.Outputs.Add(grads[target]);
            gradOutputs.Add(grads[target].Name);
        }
        using var gradSession = new InferenceSession(model.ToProto().ToByteArray());

        var gradFeeds = new Dictionary<string, float[]>(_inputs);
        foreach (var output in _graph.Outputs) gradFeeds[output.Name + "_seed"] = seeds[output.Name];
        return (forwardSession, seeds, dims, targets, RunAll(gradSession, gradFeeds, dims, gradOutputs));
    }

    /// <summary>The worst relative error each test class has seen (printed after the run by
    /// <see cref="GradientCheckSummary"/>).</summary>
    public static System.Collections.Concurrent.ConcurrentDictionary<string, double> WorstByFixture { get; } = new();

    private float[] RandomArray(long n)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++) a[i] = (float)(_random.NextDouble() * 2 - 1);
        return a;
    }

    private static float[] Shift(float[] x, float[] v, double epsilon)
    {
        var y = new float[x.Length];
        for (var i = 0; i < x.Length; i++) y[i] = (float)(x[i] + epsilon * v[i]);
        return y;
    }

    private static Dictionary<string, long[]> RunShapes(InferenceSession session, Feeds feeds, List<string> outputs)
    {
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, feeds.Values.Keys.ToList(), feeds.Values.Values.ToList(), outputs);
        return outputs.Zip(results).ToDictionary(p => p.First, p => p.Second.GetTensorTypeAndShape().Shape);
    }

    private static List<float[]> RunAll(InferenceSession session, Dictionary<string, float[]> inputs, IReadOnlyDictionary<string, long[]> dims, List<string> outputs)
    {
        using var feeds = new Feeds(inputs, dims);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, feeds.Values.Keys.ToList(), feeds.Values.Values.ToList(), outputs);
        return results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToList();
    }

    /// <summary>OrtValues over float arrays of the given dims.</summary>
    private sealed class Feeds : IDisposable
    {
        public Feeds(IReadOnlyDictionary<string, float[]> inputs, IReadOnlyDictionary<string, long[]> dims)
        {
            foreach (var (name, data) in inputs)
                Values[name] = OrtValue.CreateTensorValueFromMemory(data, dims[name]);
        }

        public Dictionary<string, OrtValue> Values { get; } = new();

        public void Dispose()
        {
            foreach (var v in Values.Values) v.Dispose();
        }
    }
}
