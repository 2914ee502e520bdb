using OnnxUnlearn.Autodiff.Rules;
using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff;

/// <summary>A gradient rule: reads the node's inputs, outputs and output gradients from the
/// context and sets the gradient of each input that needs one.</summary>
public delegate void GradientRule(GradientContext c);

/// <summary>
/// Every gradient rule, keyed by the exact ONNX op type of the standard domain. A rule may also
/// check attributes it cannot handle (see <see cref="Unsupported"/>), so that a model is refused up
/// front with the list of nodes that block training.
/// </summary>
public sealed class GradientRegistry
{
    private readonly Dictionary<string, GradientRule> _rules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<Node, int, string?>> _checks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nonDifferentiable = new(StringComparer.Ordinal);

    public static GradientRegistry Default { get; } = CreateDefault();

    private static GradientRegistry CreateDefault()
    {
        var r = new GradientRegistry();
        ElementwiseGradients.Register(r);
        ActivationGradients.Register(r);
        MatMulGradients.Register(r);
        ConvGradients.Register(r);
        PoolingGradients.Register(r);
        NormalizationGradients.Register(r);
        ShapeGradients.Register(r);
        SoftmaxGradients.Register(r);
        ReductionGradients.Register(r);
        GatherGradients.Register(r);
        ScatterGradients.Register(r);
        SliceGradients.Register(r);
        ResizeGradients.Register(r);
        LossGradients.Register(r);
        EinsumGradients.Register(r);
        return r;
    }

    public void Add(string opType, GradientRule rule, Func<Node, int, string?>? check = null)
    {
        _rules.Add(opType, rule);
        if (check is not null) _checks.Add(opType, check);
    }

    /// <summary>Ops whose outputs carry no gradient (shapes, comparisons, integer math, ...).</summary>
    public void AddNonDifferentiable(params string[] opTypes)
    {
        foreach (var op in opTypes) _nonDifferentiable.Add(op);
    }

    public bool IsNonDifferentiable(Node node) => node.IsStandard && _nonDifferentiable.Contains(node.OpType);

    public GradientRule? Find(Node node) => node.IsStandard && _rules.TryGetValue(node.OpType, out var rule) ? rule : null;

    /// <summary>Why this node cannot be differentiated (null if it can), given the opset.</summary>
    public string? Unsupported(Node node, int opset)
    {
        if (!node.IsStandard)
            return $"domain '{node.Domain}' is not the standard ONNX domain; only standard ops can be differentiated";
        if (_nonDifferentiable.Contains(node.OpType)) return null;
        if (!_rules.ContainsKey(node.OpType))
            return "no gradient rule for this op";
        return _checks.TryGetValue(node.OpType, out var check) ? check(node, opset) : null;
    }

    public IEnumerable<string> DifferentiableOps => _rules.Keys.Order(StringComparer.Ordinal);
    public IEnumerable<string> NonDifferentiableOps => _nonDifferentiable.Order(StringComparer.Ordinal);
}
