namespace OnnxUnlearn.Data;

/// <summary>Reproducible sample selection: the same inputs and seed give the same result on every run and platform.</summary>
public static class Sampling
{
    /// <summary>
    /// Up to <paramref name="perClass"/> sample indices of each class in <paramref name="classes"/>,
    /// drawn without replacement: every index of a class that has fewer samples, none for a class
    /// with no samples (compare the result with the labels if that matters). One System.Random(seed)
    /// draws for the classes in ascending order, each a partial Fisher-Yates over that class's
    /// indices in index order. The result is sorted ascending; shuffle it with <see cref="Shuffle"/>.
    /// </summary>
    public static int[] StratifiedSubset(IReadOnlyList<int> labels, int perClass, IReadOnlySet<int> classes, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perClass);
        var byClass = classes.ToDictionary(c => c, _ => new List<int>());
        for (var i = 0; i < labels.Count; i++)
        {
            if (byClass.TryGetValue(labels[i], out var members))
                members.Add(i);
        }

        var random = new Random(seed);
        var result = new List<int>();
        foreach (var (_, members) in byClass.OrderBy(pair => pair.Key))
        {
            var take = Math.Min(perClass, members.Count);
            for (var i = 0; i < take; i++)
            {
                var j = random.Next(i, members.Count);
                (members[i], members[j]) = (members[j], members[i]);
            }
            result.AddRange(members.Take(take));
        }
        result.Sort();
        return [.. result];
    }

    /// <summary>
    /// A shuffled copy of <paramref name="indices"/>: Fisher-Yates with System.Random(seed), for i
    /// from the last position down to 1 swapping i with random.Next(i + 1).
    /// </summary>
    public static int[] Shuffle(IReadOnlyList<int> indices, int seed)
    {
        var result = indices.ToArray();
        var random = new Random(seed);
        for (var i = result.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (result[i], result[j]) = (result[j], result[i]);
        }
        return result;
    }
}
