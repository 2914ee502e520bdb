using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;

namespace OnnxUnlearn.Tests.Evaluation;

/// <summary>The logistic regression and the two attacks on synthetic features with known answers.</summary>
public sealed class MembershipInferenceTests
{
    private static double[] Normal(int count, double mean, double std, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
            mean + std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))];
    }

    [Test]
    public void Perfectly_separable_features_give_one_for_members_and_zero_for_non_members()
    {
        var members = Normal(500, 0, 0.2, 1);
        var nonMembers = Normal(500, 5, 0.2, 2);

        var likeMembers = MembershipInference.Attack(members, nonMembers, Normal(200, 0, 0.2, 3));
        var likeNonMembers = MembershipInference.Attack(members, nonMembers, Normal(200, 5, 0.2, 4));

        Assert.Multiple(() =>
        {
            Assert.That(likeMembers.MeanMemberProbability, Is.GreaterThan(0.99));
            Assert.That(likeMembers.MemberFraction, Is.EqualTo(1));
            Assert.That(likeNonMembers.MeanMemberProbability, Is.LessThan(0.01));
            Assert.That(likeNonMembers.MemberFraction, Is.EqualTo(0));
            Assert.That(likeNonMembers.NonMemberFraction, Is.EqualTo(1));
        });
    }

    [Test]
    public void Identically_distributed_features_give_one_half()
    {
        var result = MembershipInference.Attack(Normal(2000, 1, 1, 1), Normal(2000, 1, 1, 2), Normal(1000, 1, 1, 3));
        Assert.That(result.MeanMemberProbability, Is.EqualTo(0.5).Within(0.03));
        Assert.That(Math.Abs(result.Model.Weight), Is.LessThan(0.1));
    }

    [Test]
    public void Balanced_weights_keep_one_half_when_the_classes_differ_in_size()
    {
        // 10× more non-members from the same distribution: unweighted, the bias would say "non-member".
        var result = MembershipInference.Attack(Normal(200, 0, 1, 1), Normal(2000, 0, 1, 2), Normal(500, 0, 1, 3));
        Assert.That(result.MeanMemberProbability, Is.EqualTo(0.5).Within(0.05));

        var unweighted = LogisticRegression.Fit([.. Normal(200, 0, 1, 1), .. Normal(2000, 0, 1, 2)],
            [.. Enumerable.Repeat(true, 200), .. Enumerable.Repeat(false, 2000)], balanced: false);
        Assert.That(unweighted.Probability(0), Is.LessThan(0.15));
    }

    [Test]
    public void The_fit_is_the_optimum_of_the_penalised_weighted_loss_and_deterministic()
    {
        double[] x = [.. Normal(300, 0, 1, 5), .. Normal(100, 0.8, 1.5, 6)];
        bool[] y = [.. Enumerable.Repeat(true, 300), .. Enumerable.Repeat(false, 100)];
        var fit = LogisticRegression.Fit(x, y);

        // Gradient of C·Σ sᵢ·CE + ½w² at the fit: zero in both parameters.
        double gw = fit.Weight, gb = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var s = y[i] ? x.Length / (2.0 * 300) : x.Length / (2.0 * 100);
            var r = s * (fit.Probability(x[i]) - (y[i] ? 1 : 0));
            gw += r * (x[i] - fit.Mean) / fit.Scale;
            gb += r;
        }
        Assert.Multiple(() =>
        {
            Assert.That(gw, Is.EqualTo(0).Within(1e-8));
            Assert.That(gb, Is.EqualTo(0).Within(1e-8));
            Assert.That(fit.Weight, Is.LessThan(0), "members sit lower");
            Assert.That(LogisticRegression.Fit(x, y), Is.EqualTo(fit));
        });
    }

    [Test]
    public void Fit_refuses_a_single_class()
    {
        Assert.Throws<ArgumentException>(() => LogisticRegression.Fit([1.0, 2.0], [true, true]));
    }

    [Test]
    public void Entropy_and_confidence_features()
    {
        Assert.Multiple(() =>
        {
            Assert.That(MembershipInference.Entropy([0.25f, 0.25f, 0.25f, 0.25f]), Is.EqualTo(Math.Log(4)).Within(1e-6));
            Assert.That(MembershipInference.Entropy([1f, 0f, 0f]), Is.EqualTo(0));
            Assert.That(MembershipInference.Confidence([0.1f, 0.7f, 0.2f], 1), Is.EqualTo(0.7).Within(1e-6));
        });
    }

    /// <summary>Probability rows for 3 classes: the label gets <paramref name="confidence"/>, the rest share the remainder.</summary>
    private static float[] Rows(int[] labels, Func<int, double> confidence)
    {
        var rows = new float[labels.Length * 3];
        for (var i = 0; i < labels.Length; i++)
        {
            var p = confidence(i);
            for (var c = 0; c < 3; c++) rows[i * 3 + c] = (float)(c == labels[i] ? p : (1 - p) / 2);
        }
        return rows;
    }

    [Test]
    public void Both_attacks_score_confident_targets_as_members_and_unsure_ones_as_non_members()
    {
        var random = new Random(7);
        int[] Labels(int n) => [.. Enumerable.Range(0, n).Select(i => i % 3)];
        var members = Labels(300);
        var nonMembers = Labels(300);
        var targets = Labels(100);
        var memberRows = Rows(members, _ => 0.95 + 0.04 * random.NextDouble());
        var nonMemberRows = Rows(nonMembers, _ => 0.4 + 0.3 * random.NextDouble());

        var remembered = MembershipInference.Evaluate(3, memberRows, members, nonMemberRows, nonMembers, Rows(targets, _ => 0.97), targets);
        var forgotten = MembershipInference.Evaluate(3, memberRows, members, nonMemberRows, nonMembers, Rows(targets, _ => 0.5), targets);

        Assert.Multiple(() =>
        {
            Assert.That(remembered.Entropy, Is.GreaterThan(0.95));
            Assert.That(remembered.Confidence, Is.EqualTo(0), "no remembered sample is classed as a non-member");
            Assert.That(forgotten.Entropy, Is.LessThan(0.05));
            Assert.That(forgotten.Confidence, Is.EqualTo(1));
            Assert.That(remembered.TargetCount, Is.EqualTo(100));
            Assert.That(remembered.MemberCount, Is.EqualTo(300));
        });
    }

    [Test]
    public void Samples_are_balanced_seeded_and_split_by_class()
    {
        var spec = new InputSpec("input", InputLayout.Flat, [1]);
        var train = new InMemoryDataset(new float[30], [.. Enumerable.Range(0, 30).Select(i => i % 3)], spec, "train");
        var test = new InMemoryDataset(new float[12], [.. Enumerable.Range(0, 12).Select(i => i % 3)], spec, "test");
        var forget = new HashSet<int> { 1 };

        var samples = MiaSamples.Select(train, test, forget, seed: 3);

        Assert.Multiple(() =>
        {
            Assert.That(samples.Members, Has.Length.EqualTo(8), "as many members as the 8 retained-class test samples");
            Assert.That(samples.NonMembers, Has.Length.EqualTo(8));
            Assert.That(samples.Members.Select(i => train.Labels[i]), Has.None.EqualTo(1));
            Assert.That(samples.NonMembers.Select(i => test.Labels[i]), Has.None.EqualTo(1));
            Assert.That(samples.Targets, Is.EqualTo(Enumerable.Range(0, 30).Where(i => i % 3 == 1)));
            Assert.That(samples.Members, Is.Ordered);
            Assert.That(MiaSamples.Select(train, test, forget, seed: 3).Members, Is.EqualTo(samples.Members));
            Assert.That(MiaSamples.Select(train, test, forget, seed: 4).Members, Is.Not.EqualTo(samples.Members));
        });
    }

    [Test]
    public void Samples_without_targets_are_refused()
    {
        var spec = new InputSpec("input", InputLayout.Flat, [1]);
        using var train = new InMemoryDataset(new float[4], [0, 2, 0, 2], spec, "train.npz");
        using var test = new InMemoryDataset(new float[4], [0, 1, 2, 1], spec, "test.npz");
        var error = Assert.Throws<UserInputException>(() => MiaSamples.Select(train, test, new HashSet<int> { 1 }, 0));
        Assert.That(error!.Message, Does.Contain("train.npz").And.Contain("classes 1"));
    }
}
