using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class SamplingTests
{
    private static readonly int[] Labels = Enumerable.Range(0, 100).Select(i => i % 4).ToArray(); // 25 per class

    [Test]
    public void StratifiedSubsetTakesUpToNPerClassSorted()
    {
        var subset = Sampling.StratifiedSubset(Labels, 5, new HashSet<int> { 1, 3, 7 }, seed: 42);

        Assert.That(subset, Has.Length.EqualTo(10));
        Assert.That(subset, Is.Ordered.And.Unique);
        Assert.That(subset.Count(i => Labels[i] == 1), Is.EqualTo(5));
        Assert.That(subset.Count(i => Labels[i] == 3), Is.EqualTo(5));
        Assert.That(Sampling.StratifiedSubset(Labels, 1000, new HashSet<int> { 2 }, 1), Is.EqualTo(Enumerable.Range(0, 25).Select(i => 4 * i + 2)));
        Assert.That(Sampling.StratifiedSubset(Labels, 0, new HashSet<int> { 2 }, 1), Is.Empty);
    }

    [Test]
    public void StratifiedSubsetIsDeterministicPerSeedAndIndependentOfSetOrder()
    {
        var a = Sampling.StratifiedSubset(Labels, 5, new HashSet<int> { 0, 2 }, seed: 7);
        var b = Sampling.StratifiedSubset(Labels, 5, new HashSet<int> { 2, 0 }, seed: 7);
        var c = Sampling.StratifiedSubset(Labels, 5, new HashSet<int> { 0, 2 }, seed: 8);

        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
        // Pinned so that a change of algorithm (and so of every seeded experiment) is noticed.
        Assert.That(a, Is.EqualTo(Expected(Labels, 5, [0, 2], 7)));
    }

    [Test]
    public void ShuffleIsASeededFisherYatesPermutation()
    {
        var indices = Enumerable.Range(10, 20).ToArray();

        var shuffled = Sampling.Shuffle(indices, seed: 3);

        Assert.That(shuffled, Is.EquivalentTo(indices));
        Assert.That(shuffled, Is.Not.EqualTo(indices));
        Assert.That(Sampling.Shuffle(indices, 3), Is.EqualTo(shuffled));
        Assert.That(indices, Is.EqualTo(Enumerable.Range(10, 20)), "the input is not changed");
        var random = new Random(3);
        var expected = indices.ToArray();
        for (var i = expected.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (expected[i], expected[j]) = (expected[j], expected[i]);
        }
        Assert.That(shuffled, Is.EqualTo(expected));
    }

    /// <summary>The documented algorithm, written out independently.</summary>
    private static int[] Expected(int[] labels, int perClass, int[] classes, int seed)
    {
        var random = new Random(seed);
        var result = new List<int>();
        foreach (var c in classes.Order())
        {
            var members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            var take = Math.Min(perClass, members.Length);
            for (var i = 0; i < take; i++)
            {
                var j = i + random.Next(members.Length - i);
                (members[i], members[j]) = (members[j], members[i]);
            }
            result.AddRange(members[..take]);
        }
        return [.. result.Order()];
    }
}
