using OnnxUnlearn.Training;

namespace OnnxUnlearn.Cli.Output;

/// <summary>Shows a training job's steps as <see cref="Progress"/> phases: a new phase line block
/// whenever the phase name changes, each ended with its time.</summary>
public sealed class TrainingProgressReporter(Progress progress) : ITrainingProgress, IDisposable
{
    private PhaseProgress? _phase;

    public void Report(string phase, int step, int totalSteps, float loss)
    {
        if (_phase?.Name != phase)
        {
            _phase?.Done();
            _phase = progress.Phase(phase, totalSteps);
        }
        _phase.Step(step, loss);
    }

    /// <summary>Ends the current phase.</summary>
    public void Dispose() => _phase?.Done();
}
