using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// Einsum. Y = einsum(X_0, ..., X_n) is linear in each operand, and its gradient is again an
/// einsum: dX_i = einsum(dY, X_j for j ≠ i) with output subscripts those of X_i. Subscripts of X_i
/// that appear nowhere else (summed over X_i alone) are left out of that einsum and restored by
/// Unsqueeze + Expand. Ellipses are expanded to fresh letters from the operands' ranks first.
/// </summary>
internal static class EinsumGradients
{
    public static void Register(GradientRegistry r) => r.Add("Einsum", Einsum, (node, _) =>
    {
        var equation = node.GetString("equation", "").Replace(" ", "", StringComparison.Ordinal);
        var terms = equation.Split("->")[0].Split(',');
        return terms.Any(t => t.Replace("...", "", StringComparison.Ordinal).GroupBy(ch => ch).Any(g => g.Count() > 1))
            ? "an operand with a repeated subscript (a diagonal) is not supported"
            : null;
    });

    // dX_i = einsum("<Y>,<X_j≠i>-><X_i without its lone subscripts>", dY, X_j...), then expanded over them
    private static void Einsum(GradientContext c)
    {
        var b = c.B;
        var (terms, output) = Parse(c);
        var dY = c.GO(0)!;
        for (var i = 0; i < c.InputCount; i++)
        {
            if (!c.Needs(i)) continue;
            var others = Enumerable.Range(0, c.InputCount).Where(j => j != i).ToList();
            var visible = new HashSet<char>(output.Concat(others.SelectMany(j => terms[j])));
            var kept = new string(terms[i].Where(visible.Contains).ToArray());
            Value grad;
            if (others.Count == 0 && kept == output)
                grad = dY;
            else
            {
                var equation = string.Join(",", new[] { output }.Concat(others.Select(j => terms[j]))) + "->" + kept;
                grad = b.Op("Einsum", [dY, .. others.Select(c.I)], Attr.String("equation", equation));
            }
            if (kept.Length != terms[i].Length)
            {
                var lone = Enumerable.Range(0, terms[i].Length).Where(a => !visible.Contains(terms[i][a])).Select(a => (long)a).ToArray();
                grad = b.ExpandLike(b.Unsqueeze(grad, lone), c.I(i));
            }
            c.SetGI(i, grad);
        }
    }

    /// <summary>The operand subscripts and the output subscripts, ellipses replaced by fresh
    /// letters (aligned to the right across operands) and an implicit output made explicit.</summary>
    private static (string[] Terms, string Output) Parse(GradientContext c)
    {
        var equation = c.Node.GetString("equation", "").Replace(" ", "", StringComparison.Ordinal);
        var parts = equation.Split("->");
        var terms = parts[0].Split(',');
        var used = new HashSet<char>(equation.Where(char.IsLetter));
        var fresh = Enumerable.Range(0, 52).Select(n => (char)(n < 26 ? 'A' + n : 'a' + n - 26)).Where(ch => !used.Contains(ch)).ToArray();
        var ellipsisRanks = terms.Select((t, i) => t.Contains("...", StringComparison.Ordinal)
            ? c.RankOf(c.I(i)) - t.Replace("...", "", StringComparison.Ordinal).Length
            : 0).ToArray();
        var longest = ellipsisRanks.DefaultIfEmpty(0).Max();
        var ellipsis = new string(fresh.Take(longest).ToArray());
        for (var i = 0; i < terms.Length; i++)
            terms[i] = terms[i].Replace("...", ellipsis[(longest - ellipsisRanks[i])..], StringComparison.Ordinal);

        string output;
        if (parts.Length > 1)
        {
            output = parts[1].Replace("...", ellipsis, StringComparison.Ordinal);
        }
        else
        {
            var counts = string.Concat(terms).Where(ch => !ellipsis.Contains(ch)).GroupBy(ch => ch).Where(g => g.Count() == 1).Select(g => g.Key).Order();
            output = ellipsis + new string(counts.ToArray());
        }

        // every subscript must have one size (this rule does not broadcast size-1 ellipsis dims)
        var sizes = new Dictionary<char, long>();
        for (var i = 0; i < terms.Length; i++)
        {
            var dims = c.ShapeOf(c.I(i));
            for (var a = 0; a < terms[i].Length; a++)
                if (sizes.TryGetValue(terms[i][a], out var size) && size != dims[a])
                    throw new UserInputException($"{c.Node.Describe()}: subscript '{terms[i][a]}' has sizes {size} and {dims[a]} (broadcast ellipsis dims are not supported)");
                else
                    sizes[terms[i][a]] = dims[a];
        }
        return (terms, output);
    }
}
