namespace OnnxUnlearn.Training;

/// <summary>The loss became NaN or infinite: training stopped and nothing was written.</summary>
public sealed class TrainingDivergedException(string phase, int step, float loss)
    : Exception($"{phase} diverged at step {step}: the loss is {loss}; nothing was written (try a lower learning rate)")
{
    public string Phase { get; } = phase;
    public int Step { get; } = step;
}
