using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;

namespace OnnxUnlearn.Reporting;

/// <summary>One model's figures on the evaluation data: accuracy, and the attacks when they were run.</summary>
public sealed record ModelFigures(string Name, AccuracyReport Accuracy, MiaReport? Mia = null);

/// <summary>The noise an UNSIR run learned, for the noise chart.</summary>
/// <param name="Values">Row-major [ForgetClasses.Count × PerClass, ..Input.SampleDims], class by class in <see cref="UnlearningReport.ForgetClasses"/> order.</param>
public sealed record LearnedNoise(float[] Values, int PerClass, InputSpec Input);

/// <summary>
/// Everything a person reads about one unlearning run (what <see cref="ReportWriter"/> and
/// <see cref="Charts"/> draw from): the models' figures before and after, a baseline (a model
/// retrained without the classes) when given, the settings, timings and losses.
/// </summary>
public sealed record UnlearningReport
{
    public required string Method { get; init; }
    public required string Model { get; init; }
    public required string Output { get; init; }
    public required IReadOnlyList<int> ForgetClasses { get; init; }

    /// <summary>Class index → name, when the data has names.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>What the figures were measured on, e.g. "models/fmnist_test.npz".</summary>
    public required string EvaluatedOn { get; init; }

    public required ModelFigures Before { get; init; }
    public ModelFigures? AfterImpair { get; init; }
    public required ModelFigures After { get; init; }

    /// <summary>The reference model (e.g. retrained from scratch without the classes), when given.</summary>
    public ModelFigures? Baseline { get; init; }

    /// <summary>The baseline's file, when given.</summary>
    public string? BaselineModel { get; init; }

    /// <summary>Settings in the order to show them: name → value as text.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];

    /// <summary>Wall time per phase in seconds ("total" included).</summary>
    public IReadOnlyDictionary<string, double> TimingsSeconds { get; init; } = new Dictionary<string, double>();

    /// <summary>Loss per step, per phase, in phase order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<float>> Losses { get; init; } = new Dictionary<string, IReadOnlyList<float>>();

    /// <summary>Impair + repair rounds run.</summary>
    public int Rounds { get; init; } = 1;

    public LearnedNoise? Noise { get; init; }

    /// <summary>The models in table order: before, after impair, after, baseline (those present).</summary>
    public IReadOnlyList<ModelFigures> Models => new[] { Before, AfterImpair, After, Baseline }.OfType<ModelFigures>().ToList();

    /// <summary>"3 T-shirt/top" with a name, else "3".</summary>
    public string ClassLabel(int c) => ClassNames is { } names && c < names.Count ? $"{c} {names[c]}" : c.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
