namespace OnnxUnlearn.Cli.Output;

/// <summary>A plain-text table with aligned columns: text left-aligned, numbers right-aligned.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];
    private readonly bool[] _rightAligned = new bool[headers.Length];

    /// <summary>Right-aligns the given columns (by default every column whose cells all look numeric).</summary>
    public TextTable AlignRight(params int[] columns)
    {
        foreach (var c in columns) _rightAligned[c] = true;
        return this;
    }

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"{cells.Length} cells for {headers.Length} columns", nameof(cells));
        _rows.Add(cells);
    }

    public void Write(TextWriter writer, string indent = "")
    {
        var widths = headers.Select((h, c) => _rows.Select(r => r[c].Length).Append(h.Length).Max()).ToArray();
        var right = _rightAligned.Select((r, c) => r || (_rows.Count > 0 && _rows.All(row => LooksNumeric(row[c])))).ToArray();
        WriteRow(writer, indent, headers, widths, right);
        foreach (var row in _rows)
            WriteRow(writer, indent, row, widths, right);
    }

    private static void WriteRow(TextWriter writer, string indent, string[] cells, int[] widths, bool[] right)
    {
        var parts = cells.Select((cell, c) => right[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]));
        writer.WriteLine(indent + string.Join("  ", parts).TrimEnd());
    }

    /// <summary>"1,234", "-0.5", "88.80 %", "3.1 s", or "-" (no value).</summary>
    private static bool LooksNumeric(string cell)
    {
        if (cell is "-" or "n/a") return true;
        var number = cell.EndsWith(" %", StringComparison.Ordinal) || cell.EndsWith(" s", StringComparison.Ordinal) ? cell[..^2] : cell;
        return number.Length > 0 && number.Any(char.IsAsciiDigit) && number.All(c => char.IsAsciiDigit(c) || c is ',' or '.' or '-');
    }
}

/// <summary>"key   value" lines with the values aligned.</summary>
public sealed class KeyValueBlock
{
    private readonly List<(string Key, string Value)> _lines = [];

    public void Add(string key, string value) => _lines.Add((key, value));

    /// <summary>A continuation line under the previous key.</summary>
    public void Continue(string value) => _lines.Add(("", value));

    public void Write(TextWriter writer)
    {
        var width = _lines.Select(l => l.Key.Length).DefaultIfEmpty(0).Max() + 2;
        foreach (var (key, value) in _lines)
            writer.WriteLine((key.PadRight(width) + value).TrimEnd());
    }
}
