using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Evaluation;

/// <summary>How far one floating-point initializer moved from model A to model B.</summary>
/// <param name="NormA">‖Wa‖ (Frobenius).</param>
/// <param name="NormDifference">‖Wa − Wb‖.</param>
public sealed record WeightDistance(string Name, long[] Shape, double NormA, double NormDifference)
{
    /// <summary>‖Wa − Wb‖ / ‖Wa‖; 0 when both are zero, +∞ when only Wa is zero.</summary>
    public double Relative => NormA > 0 ? NormDifference / NormA : NormDifference == 0 ? 0 : double.PositiveInfinity;
}

/// <summary>An initializer that is in one model only, or in both with another shape or element type.</summary>
/// <param name="InA">"float32 [16, 1, 3, 3]" in A; null when A has none of that name.</param>
/// <param name="InB">The same for B.</param>
public sealed record WeightMismatch(string Name, string? InA, string? InB);

/// <summary>The per-initializer distances between two models.</summary>
public sealed record WeightComparison(IReadOnlyList<WeightDistance> Matched, IReadOnlyList<WeightMismatch> Mismatched)
{
    /// <summary>‖Wa − Wb‖ / ‖Wa‖ over all matched initializers taken as one vector.</summary>
    public double TotalRelative
    {
        get
        {
            var a = Math.Sqrt(Matched.Sum(d => d.NormA * d.NormA));
            var diff = Math.Sqrt(Matched.Sum(d => d.NormDifference * d.NormDifference));
            return a > 0 ? diff / a : diff == 0 ? 0 : double.PositiveInfinity;
        }
    }
}

/// <summary>Measures how two classifiers differ: in their weights, predictions and outputs.</summary>
public static class ModelComparison
{
    /// <summary>
    /// Pairs the floating-point initializers of A and B by name: those of the same shape and element
    /// type get a <see cref="WeightDistance"/> (in A's order); the others, and those of one model
    /// only, a <see cref="WeightMismatch"/>.
    /// </summary>
    public static WeightComparison CompareWeights(Model a, Model b)
    {
        var inB = FloatInitializers(b).ToDictionary(t => t.Name);
        var matched = new List<WeightDistance>();
        var mismatched = new List<WeightMismatch>();
        foreach (var ta in FloatInitializers(a))
        {
            if (!inB.Remove(ta.Name, out var tb))
            {
                mismatched.Add(new WeightMismatch(ta.Name, Describe(ta), null));
                continue;
            }
            if (ta.ElementType != tb.ElementType || !ta.Dims.SequenceEqual(tb.Dims))
            {
                mismatched.Add(new WeightMismatch(ta.Name, Describe(ta), Describe(tb)));
                continue;
            }
            var (normA, normDifference) = Norms(ta.ToFloatArray(), tb.ToFloatArray());
            matched.Add(new WeightDistance(ta.Name, ta.Dims, normA, normDifference));
        }
        mismatched.AddRange(inB.Values.Select(tb => new WeightMismatch(tb.Name, null, Describe(tb))));
        return new WeightComparison(matched, mismatched);
    }

    /// <summary>Fraction of positions where the two predictions are equal (1 for no predictions).</summary>
    public static double Agreement(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count)
            throw new ArgumentException($"{a.Count} predictions against {b.Count}", nameof(b));
        return a.Count == 0 ? 1 : a.Where((p, i) => p == b[i]).Count() / (double)a.Count;
    }

    /// <summary>
    /// Mean over rows of the L2 distance between two row-major [n, classCount] probability tables
    /// (the "activation distance" of Bad Teaching); NaN for no rows.
    /// </summary>
    public static double MeanL2Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int classCount)
    {
        if (a.Length != b.Length || a.Length % classCount != 0)
            throw new ArgumentException($"tables of {a.Length} and {b.Length} values for {classCount} classes", nameof(b));
        var rows = a.Length / classCount;
        if (rows == 0) return double.NaN;
        double total = 0;
        for (var r = 0; r < rows; r++)
        {
            double sum = 0;
            for (var c = r * classCount; c < (r + 1) * classCount; c++)
            {
                double d = a[c] - b[c];
                sum += d * d;
            }
            total += Math.Sqrt(sum);
        }
        return total / rows;
    }

    private static IEnumerable<TensorData> FloatInitializers(Model model) =>
        model.Graph.Initializers.Select(v => v.Initializer).OfType<TensorData>().Where(t => t.IsFloatingPoint);

    private static (double NormA, double NormDifference) Norms(float[] a, float[] b)
    {
        double sa = 0, sd = 0;
        for (var i = 0; i < a.Length; i++)
        {
            double x = a[i], d = a[i] - (double)b[i];
            sa += x * x;
            sd += d * d;
        }
        return (Math.Sqrt(sa), Math.Sqrt(sd));
    }

    private static string Describe(TensorData t) =>
        $"{t.ElementType.ToString().ToLowerInvariant()} [{string.Join(", ", t.Dims)}]";
}
