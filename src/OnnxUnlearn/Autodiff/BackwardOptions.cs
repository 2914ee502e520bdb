using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff;

/// <summary>Settings a few rules need from the training graph builder.</summary>
public sealed record BackwardOptions
{
    /// <summary>
    /// BatchNormalization nodes whose mean and variance inputs are the batch statistics of their
    /// own input X (training mode, lowered by the training graph builder), each with X − mean as
    /// the forward pass computed it: their rule uses the closed form that accounts for the
    /// statistics' dependence on X, and reuses that difference.
    /// </summary>
    public IReadOnlyDictionary<Node, Value> BatchStatisticsNodes { get; init; } = new Dictionary<Node, Value>();
}
