using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff;

/// <summary>
/// What a gradient rule sees of one node: I(i) input, O(i) output, GO(i) output gradient,
/// Needs(i) whether input i needs a gradient, SetGI(i, g) to give it one; B emits new nodes.
/// Shapes come from the shape probe (-1 for dims that scale with the batch).
/// </summary>
public sealed class GradientContext
{
    private readonly Value?[] _outputGrads;
    private readonly Func<Value, bool> _needsGradient;
    private readonly IReadOnlyDictionary<string, ValueShape> _shapes;
    private readonly Action<Value, Value> _accumulate;

    internal GradientContext(GraphBuilder builder, Node node, Value?[] outputGrads, Func<Value, bool> needsGradient,
        IReadOnlyDictionary<string, ValueShape> shapes, Action<Value, Value> accumulate, BackwardOptions options)
    {
        B = builder;
        Node = node;
        _outputGrads = outputGrads;
        _needsGradient = needsGradient;
        _shapes = shapes;
        _accumulate = accumulate;
        Options = options;
    }

    public GraphBuilder B { get; }
    public Node Node { get; }
    public BackwardOptions Options { get; }
    public int Opset => B.Opset;
    public int InputCount => Node.Inputs.Count;

    public Value I(int i) => Node.Inputs[i] ?? throw new InvalidOperationException($"{Node.Describe()}: input {i} is absent");

    public bool HasInput(int i) => i < Node.Inputs.Count && Node.Inputs[i] is not null;

    public Value O(int i) => Node.Outputs[i];

    /// <summary>Gradient of output i, or null when no gradient reaches it (it is zero).</summary>
    public Value? GO(int i) => i < _outputGrads.Length ? _outputGrads[i] : null;

    /// <summary>Gradient of output i, materialised as zeros when none reaches it.</summary>
    public Value GOOrZeros(int i) => GO(i) ?? B.ZerosLike(O(i));

    public bool Needs(int i) => HasInput(i) && _needsGradient(Node.Inputs[i]!);

    public void SetGI(int i, Value gradient)
    {
        if (Needs(i)) _accumulate(Node.Inputs[i]!, gradient);
    }

    public long[] ShapeOf(Value v) =>
        _shapes.TryGetValue(v.Name, out var s) ? s.Dims : throw new InvalidOperationException($"{Node.Describe()}: shape of '{v.Name}' is unknown");

    public int RankOf(Value v) => ShapeOf(v).Length;

    public long GetInt(string name, long defaultValue) => Node.GetInt(name, defaultValue);

    /// <summary>
    /// Sums a broadcast gradient back to the shape of <paramref name="input"/>:
    /// ReduceSum over the leading axes the input lacks and over the axes where it has size 1.
    /// </summary>
    public Value ReduceToShapeOf(Value gradient, Value input, Value broadcastOutput)
    {
        var outDims = ShapeOf(broadcastOutput);
        var inDims = ShapeOf(input);
        var lead = outDims.Length - inDims.Length;
        var axes = new List<long>();
        for (var a = 0; a < outDims.Length; a++)
        {
            var inDim = a < lead ? -2 : inDims[a - lead];
            if (inDim == -2 || (inDim == 1 && outDims[a] != 1)) axes.Add(a);
        }
        if (axes.Count == 0) return gradient;
        var reduced = B.ReduceSum(gradient, [.. axes], keepDims: true);
        return lead == 0 ? reduced : B.Reshape(reduced, B.Shape(input));
    }
}
