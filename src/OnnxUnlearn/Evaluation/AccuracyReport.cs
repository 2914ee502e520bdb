namespace OnnxUnlearn.Evaluation;

/// <summary>
/// Accuracy of a classifier on a labelled data set: overall, per class, and — when classes to
/// forget are given — on those classes (forget accuracy) and on all the others (retain accuracy).
/// Accuracies are fractions in [0, 1]; null where there is no sample to measure.
/// </summary>
public sealed record AccuracyReport
{
    public AccuracyReport(IReadOnlyList<int> classCounts, IReadOnlyList<int> classCorrect, IReadOnlySet<int>? forgetClasses = null)
    {
        if (classCounts.Count != classCorrect.Count)
            throw new ArgumentException("one count and one correct count per class are needed", nameof(classCorrect));
        if (forgetClasses?.FirstOrDefault(c => c < 0 || c >= classCounts.Count, -1) is >= 0 and var bad)
            throw new ArgumentOutOfRangeException(nameof(forgetClasses), bad, $"class {bad} is outside the model's {classCounts.Count} classes");
        ClassCounts = [.. classCounts];
        ClassCorrect = [.. classCorrect];
        Count = ClassCounts.Sum();
        Correct = ClassCorrect.Sum();
        Accuracy = Fraction(Correct, Count) ?? 0;
        PerClassAccuracy = Enumerable.Range(0, ClassCounts.Count).Select(c => Fraction(ClassCorrect[c], ClassCounts[c])).ToArray();
        if (forgetClasses is null) return;
        ForgetClasses = [.. forgetClasses.Order()];
        ForgetCount = ForgetClasses.Sum(c => ClassCounts[c]);
        var forgetCorrect = ForgetClasses.Sum(c => ClassCorrect[c]);
        ForgetAccuracy = Fraction(forgetCorrect, ForgetCount);
        RetainCount = Count - ForgetCount;
        RetainAccuracy = Fraction(Correct - forgetCorrect, RetainCount);
    }

    /// <summary>Samples measured.</summary>
    public int Count { get; }

    /// <summary>Samples whose predicted class (argmax) is their label.</summary>
    public int Correct { get; }

    /// <summary>Correct / Count (0 for an empty data set).</summary>
    public double Accuracy { get; }

    public int ClassCount => ClassCounts.Count;

    /// <summary>Samples per class (by label).</summary>
    public IReadOnlyList<int> ClassCounts { get; }

    /// <summary>Correctly predicted samples per class.</summary>
    public IReadOnlyList<int> ClassCorrect { get; }

    /// <summary>Accuracy per class; null for a class with no sample in the data.</summary>
    public IReadOnlyList<double?> PerClassAccuracy { get; }

    /// <summary>The classes to forget, ascending; null when none were given.</summary>
    public IReadOnlyList<int>? ForgetClasses { get; }

    /// <summary>Accuracy on samples of the forget classes; null without forget classes or samples of them.</summary>
    public double? ForgetAccuracy { get; }

    /// <summary>Accuracy on samples of every other class; null without forget classes or other samples.</summary>
    public double? RetainAccuracy { get; }

    public int ForgetCount { get; }
    public int RetainCount { get; }

    /// <summary>Builds the report from labels and predictions (same length, classes in [0, classCount)).</summary>
    public static AccuracyReport FromPredictions(IReadOnlyList<int> labels, IReadOnlyList<int> predictions, int classCount, IReadOnlySet<int>? forgetClasses = null)
    {
        if (labels.Count != predictions.Count)
            throw new ArgumentException($"{labels.Count} labels but {predictions.Count} predictions", nameof(predictions));
        var counts = new int[classCount];
        var correct = new int[classCount];
        for (var i = 0; i < labels.Count; i++)
        {
            var label = labels[i];
            if ((uint)label >= (uint)classCount)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"label at index {i} is outside the {classCount} classes");
            counts[label]++;
            if (predictions[i] == label) correct[label]++;
        }
        return new AccuracyReport(counts, correct, forgetClasses);
    }

    private static double? Fraction(int part, int whole) => whole == 0 ? null : (double)part / whole;
}
