using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;

namespace OnnxUnlearn.Evaluation;

/// <summary>
/// The samples of a membership inference attack on unlearning: members are training samples of the
/// retained classes, non-members held-out (test) samples of the retained classes, both drawn to the
/// same count; the targets are the training samples of the forgotten classes.
/// </summary>
/// <param name="Members">Indices into the training data.</param>
/// <param name="NonMembers">Indices into the test data.</param>
/// <param name="Targets">Indices into the training data: every sample of the forgotten classes.</param>
public sealed record MiaSamples(int[] Members, int[] NonMembers, int[] Targets)
{
    /// <summary>
    /// Picks the samples: all retained-class samples of the smaller side, and as many of the other
    /// side drawn without replacement by a seeded shuffle (<see cref="Sampling.Shuffle"/>), so that
    /// the attack is trained on balanced classes. Each array is sorted ascending.
    /// </summary>
    /// <exception cref="UserInputException">No retained-class sample in either data set, or no forgotten-class sample in the training data.</exception>
    public static MiaSamples Select(ILabeledDataset train, ILabeledDataset test, IReadOnlySet<int> forgetClasses, int seed)
    {
        var members = Enumerable.Range(0, train.Count).Where(i => !forgetClasses.Contains(train.Labels[i])).ToArray();
        var nonMembers = Enumerable.Range(0, test.Count).Where(i => !forgetClasses.Contains(test.Labels[i])).ToArray();
        var targets = Enumerable.Range(0, train.Count).Where(i => forgetClasses.Contains(train.Labels[i])).ToArray();
        var classes = string.Join(", ", forgetClasses.Order());
        if (members.Length == 0)
            throw new UserInputException($"{train.Source}: no training samples outside classes {classes}; the membership attack needs some as members");
        if (nonMembers.Length == 0)
            throw new UserInputException($"{test.Source}: no test samples outside classes {classes}; the membership attack needs some as non-members");
        if (targets.Length == 0)
            throw new UserInputException($"{train.Source}: no training samples of classes {classes}; the membership attack is applied to them");
        var count = Math.Min(members.Length, nonMembers.Length);
        return new MiaSamples(Draw(members, count, seed), Draw(nonMembers, count, unchecked(seed + 1)), targets);
    }

    private static int[] Draw(int[] indices, int count, int seed)
    {
        if (count == indices.Length) return indices;
        var drawn = Sampling.Shuffle(indices, seed)[..count];
        Array.Sort(drawn);
        return drawn;
    }
}

/// <summary>What one attack concluded about the target samples.</summary>
/// <param name="MeanMemberProbability">Mean predicted probability that a target sample is a member.</param>
/// <param name="MemberFraction">Fraction of target samples classed as members (probability above ½).</param>
/// <param name="Model">The fitted attack.</param>
public sealed record MembershipAttackResult(double MeanMemberProbability, double MemberFraction, int TargetCount, LogisticRegression Model)
{
    /// <summary>Fraction of target samples classed as non-members.</summary>
    public double NonMemberFraction => 1 - MemberFraction;
}

/// <summary>
/// The two attacks' scores on the forgotten samples.
/// <see cref="Entropy"/> (Bad Teaching, SSD): mean predicted membership probability from the
/// entropy of the softmax output; a model that never saw the samples is near the value of a model
/// retrained without them. <see cref="Confidence"/> (SalUn's "MIA-efficacy"): fraction of the
/// forgotten samples classed as non-members from the probability of their true label; higher means
/// more forgotten.
/// </summary>
public sealed record MiaReport(MembershipAttackResult EntropyAttack, MembershipAttackResult ConfidenceAttack, int MemberCount, int NonMemberCount)
{
    public double Entropy => EntropyAttack.MeanMemberProbability;
    public double Confidence => ConfidenceAttack.NonMemberFraction;
    public int TargetCount => EntropyAttack.TargetCount;
}

/// <summary>
/// Membership inference attacks (entropy- and confidence-based) on the forgotten samples: an attack
/// model (<see cref="LogisticRegression"/> on one feature of the softmax output) learns to tell
/// training samples (members) from test samples (non-members) of the retained classes, then judges
/// the forgotten classes' training samples.
/// </summary>
public static class MembershipInference
{
    /// <summary>Shannon entropy −Σ p·ln p (nats) of one probability row; 0·ln 0 counts as 0.</summary>
    public static double Entropy(ReadOnlySpan<float> probabilities)
    {
        double sum = 0;
        foreach (var p in probabilities)
            if (p > 0) sum -= p * Math.Log(p);
        return sum;
    }

    /// <summary>The probability of the true label.</summary>
    public static double Confidence(ReadOnlySpan<float> probabilities, int label) => probabilities[label];

    /// <summary>Fits the attack on member (positive) and non-member features and applies it to the targets.</summary>
    public static MembershipAttackResult Attack(IReadOnlyList<double> members, IReadOnlyList<double> nonMembers, IReadOnlyList<double> targets)
    {
        var model = LogisticRegression.Fit([.. members, .. nonMembers], [.. members.Select(_ => true), .. nonMembers.Select(_ => false)]);
        if (targets.Count == 0)
            return new MembershipAttackResult(double.NaN, double.NaN, 0, model);
        var probabilities = targets.Select(model.Probability).ToArray();
        return new MembershipAttackResult(probabilities.Average(), probabilities.Count(p => p > 0.5) / (double)probabilities.Length, targets.Count, model);
    }

    /// <summary>Both attacks from the class probabilities (row-major, one row per sample) and labels of each group.</summary>
    public static MiaReport Evaluate(int classCount,
        float[] memberProbabilities, IReadOnlyList<int> memberLabels,
        float[] nonMemberProbabilities, IReadOnlyList<int> nonMemberLabels,
        float[] targetProbabilities, IReadOnlyList<int> targetLabels)
    {
        static double[] Features(float[] rows, int classCount, Func<ReadOnlySpan<float>, int, double> feature, IReadOnlyList<int> labels)
        {
            var values = new double[rows.Length / classCount];
            if (values.Length != labels.Count)
                throw new ArgumentException($"{values.Length} probability rows but {labels.Count} labels", nameof(labels));
            for (var i = 0; i < values.Length; i++)
                values[i] = feature(rows.AsSpan(i * classCount, classCount), labels[i]);
            return values;
        }
        Func<ReadOnlySpan<float>, int, double> entropy = (row, _) => Entropy(row);
        Func<ReadOnlySpan<float>, int, double> confidence = Confidence;
        var entropyAttack = Attack(Features(memberProbabilities, classCount, entropy, memberLabels),
            Features(nonMemberProbabilities, classCount, entropy, nonMemberLabels), Features(targetProbabilities, classCount, entropy, targetLabels));
        var confidenceAttack = Attack(Features(memberProbabilities, classCount, confidence, memberLabels),
            Features(nonMemberProbabilities, classCount, confidence, nonMemberLabels), Features(targetProbabilities, classCount, confidence, targetLabels));
        return new MiaReport(entropyAttack, confidenceAttack, memberLabels.Count, nonMemberLabels.Count);
    }

    /// <summary>Runs the model on the chosen samples and both attacks.</summary>
    public static MiaReport Run(InferenceSession session, ClassifierInfo info, ILabeledDataset train, ILabeledDataset test, MiaSamples samples,
        int batchSize = Evaluator.DefaultBatchSize)
    {
        float[] Probabilities(ILabeledDataset data, int[] indices) => ClassProbabilities.Compute(session, info, data, indices, batchSize);
        int[] Labels(ILabeledDataset data, int[] indices) => [.. indices.Select(i => data.Labels[i])];
        return Evaluate(info.ClassCount,
            Probabilities(train, samples.Members), Labels(train, samples.Members),
            Probabilities(test, samples.NonMembers), Labels(test, samples.NonMembers),
            Probabilities(train, samples.Targets), Labels(train, samples.Targets));
    }
}
