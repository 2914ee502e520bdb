using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff;

/// <summary>Settings a few rules need from the training graph builder.</summary>
public sealed record BackwardOptions
{
    /// <summary>
    /// BatchNormalization nodes whose mean and variance inputs are the batch statistics of their
    /// own input X (training mode, lowered by the training graph builder): their rule uses the
    /// closed form that accounts for the statistics' dependence on X.
    /// </summary>
    public IReadOnlySet<Node> BatchStatisticsNodes { get; init; } = new HashSet<Node>();
}
