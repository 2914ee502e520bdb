using System.Diagnostics;
using System.Globalization;

namespace OnnxUnlearn.Cli.Output;

/// <summary>
/// Progress and informational lines on stderr, one line each (readable in logs and CI output, no
/// carriage returns): "[impair] step 12/40  loss 0.5123  3.1 s  eta 7.2 s". Silent with --quiet.
/// Step lines are throttled to one per <see cref="Interval"/>, plus the first and last step.
/// </summary>
public sealed class Progress(TextWriter err, bool quiet)
{
    /// <summary>At most one step line per phase in this interval.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    public bool Quiet => quiet;

    /// <summary>An informational line (nothing with --quiet).</summary>
    public void Info(string message)
    {
        if (!quiet) err.WriteLine(message);
    }

    /// <summary>Starts a phase of <paramref name="totalSteps"/> steps (0 if unknown).</summary>
    public PhaseProgress Phase(string name, int totalSteps) => new(this, name, totalSteps);

    internal void Write(string line)
    {
        if (quiet) return;
        err.WriteLine(line);
        err.Flush();
    }
}

/// <summary>One phase of a job: report each step, then <see cref="Done"/> (or dispose).</summary>
public sealed class PhaseProgress : IDisposable
{
    private readonly Progress _owner;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double? _lastLineSeconds;
    private bool _done;

    internal PhaseProgress(Progress owner, string name, int totalSteps)
    {
        _owner = owner;
        Name = name;
        TotalSteps = totalSteps;
    }

    public string Name { get; }
    public int TotalSteps { get; }
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Reports that <paramref name="step"/> steps (1-based) are done, with an optional loss.</summary>
    public void Step(int step, double? loss = null, string? detail = null)
    {
        // In seconds as doubles: no TimeSpan arithmetic that could overflow on an odd clock.
        var now = _clock.Elapsed.TotalSeconds;
        var last = TotalSteps > 0 && step >= TotalSteps;
        if (!last && step != 1 && now - _lastLineSeconds < _owner.Interval.TotalSeconds) return;
        _lastLineSeconds = now;
        var line = $"[{Name}] step {step}" + (TotalSteps > 0 ? $"/{TotalSteps}" : "");
        if (loss is { } l) line += "  loss " + l.ToString("G5", CultureInfo.InvariantCulture);
        if (detail is not null) line += "  " + detail;
        line += "  " + Seconds(now);
        if (TotalSteps > 0 && step > 1 && step < TotalSteps)
            line += "  eta " + Seconds(now * (TotalSteps - step) / step);
        _owner.Write(line);
    }

    /// <summary>Ends the phase with a line giving its time and an optional summary.</summary>
    public void Done(string? summary = null)
    {
        if (_done) return;
        _done = true;
        _owner.Write($"[{Name}] done in {Seconds(_clock.Elapsed.TotalSeconds)}" + (summary is null ? "" : "  " + summary));
    }

    public void Dispose() => _done = true;

    internal static string Seconds(double seconds) => seconds.ToString(seconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " s";
}
