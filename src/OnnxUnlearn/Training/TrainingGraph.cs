using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Training;

/// <summary>What a state tensor of a training graph holds.</summary>
public enum StateKind
{
    /// <summary>A trained tensor (a model parameter, or the UNSIR noise).</summary>
    Parameter,
    /// <summary>Optimizer state (momentum, Adam moments).</summary>
    OptimizerState,
    /// <summary>BatchNormalization running mean or variance.</summary>
    RunningStatistic,
}

/// <summary>
/// A tensor carried from one step to the next: read from input <see cref="Name"/>, written to
/// output <see cref="OutputName"/>. <see cref="Initializer"/> names the model initializer it
/// updates on export (null for optimizer state and noise).
/// </summary>
public sealed record StateTensor(string Name, string OutputName, long[] Dims, StateKind Kind, string? Initializer, float[] InitialValue);

/// <summary>
/// One full training step as a standard ONNX model: forward, loss, backward and optimizer update.
/// Inputs: the batch (<see cref="InputName"/>, <see cref="LabelsName"/>), the learning rate and
/// step count t ≥ 1 (float scalars), and every state tensor; outputs: the loss and the next state.
/// </summary>
public sealed class TrainingGraph
{
    public const string LearningRateName = "learning_rate";
    public const string StepName = "step";
    public const string LossName = "loss";

    public required ModelProto Proto { get; init; }
    public required string InputName { get; init; }
    public required string LabelsName { get; init; }
    public required IReadOnlyList<StateTensor> State { get; init; }

    /// <summary>
    /// Values of initializers that replace the model's (<see cref="TrainingGraphOptions.Weights"/>);
    /// those still initializers of <see cref="Proto"/> are given to its session from these arrays.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> Weights { get; init; } = new Dictionary<string, float[]>();

    /// <summary>Folder of the source model, for external data still referenced by constants.</summary>
    public string? ExternalDataFolder { get; init; }

    public IEnumerable<StateTensor> Parameters => State.Where(s => s.Kind == StateKind.Parameter);
}
