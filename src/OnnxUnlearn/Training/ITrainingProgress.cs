namespace OnnxUnlearn.Training;

/// <summary>Receives progress: the phase, the step (1-based) of the phase's total, and the loss.</summary>
public interface ITrainingProgress
{
    void Report(string phase, int step, int totalSteps, float loss);
}
