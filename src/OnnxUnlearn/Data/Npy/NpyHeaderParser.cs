namespace OnnxUnlearn.Data.Npy;

/// <summary>
/// Parses the Python dict literal of an NPY header: exactly the keys descr (a string, or a list for
/// structured dtypes, kept as raw text), fortran_order (True/False) and shape (a tuple of ints).
/// </summary>
internal ref struct NpyHeaderParser
{
    private readonly string text;
    private readonly string source;
    private int position;

    private NpyHeaderParser(string text, string source)
    {
        this.text = text;
        this.source = source;
    }

    public static NpyHeader Parse(string text, string source, int dataOffset)
    {
        var parser = new NpyHeaderParser(text, source);
        var values = parser.ParseDict();
        if (text.Length == 0 || text[^1] != '\n' || !string.IsNullOrWhiteSpace(text[parser.position..]))
            throw parser.Error("the NPY header must end with padding and a newline after the dict");

        string[] expected = ["descr", "fortran_order", "shape"];
        var missing = expected.Where(key => !values.ContainsKey(key)).ToList();
        var extra = values.Keys.Where(key => !expected.Contains(key)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw parser.Error($"the NPY header must have exactly the keys descr, fortran_order, shape (missing: {string.Join(", ", missing)}; unexpected: {string.Join(", ", extra)})");

        return new NpyHeader(
            values["descr"] as string ?? throw parser.Error("'descr' must be a string"),
            values["fortran_order"] as bool? ?? throw parser.Error("'fortran_order' must be True or False"),
            values["shape"] as long[] ?? throw parser.Error("'shape' must be a tuple of integers"),
            dataOffset);
    }

    private Dictionary<string, object> ParseDict()
    {
        var values = new Dictionary<string, object>();
        Expect('{');
        while (Peek() != '}')
        {
            var key = ParseString();
            Expect(':');
            if (!values.TryAdd(key, ParseValue()))
                throw Error($"the NPY header repeats the key '{key}'");
            if (Peek() != ',')
                break;
            position++;
        }
        Expect('}');
        return values;
    }

    private object ParseValue() => Peek() switch
    {
        '\'' or '"' => ParseString(),
        '(' => ParseTuple(),
        '[' => ParseRawList(),
        _ => ParseBool(),
    };

    private string ParseString()
    {
        var quote = Peek();
        if (quote is not ('\'' or '"'))
            throw Error("expected a quoted string");
        var end = text.IndexOf(quote, position + 1);
        if (end < 0)
            throw Error("a string is not closed");
        var value = text[(position + 1)..end];
        position = end + 1;
        return value;
    }

    private long[] ParseTuple()
    {
        Expect('(');
        var dims = new List<long>();
        while (Peek() != ')')
        {
            var start = position;
            while (position < text.Length && char.IsAsciiDigit(text[position]))
                position++;
            if (start == position || !long.TryParse(text.AsSpan(start, position - start), out var dim))
                throw Error("'shape' must be a tuple of non-negative integers");
            if (position < text.Length && text[position] == 'L') // Python 2 longs
                position++;
            dims.Add(dim);
            if (Peek() != ',')
                break;
            position++;
        }
        Expect(')');
        return [.. dims];
    }

    /// <summary>A structured dtype's field list, kept as text: it is only ever reported as unsupported.</summary>
    private string ParseRawList()
    {
        var start = position;
        var depth = 0;
        do
        {
            if (position >= text.Length)
                throw Error("a list is not closed");
            depth += text[position] switch { '[' => 1, ']' => -1, _ => 0 };
            position++;
        }
        while (depth > 0);
        return text[start..position];
    }

    private bool ParseBool()
    {
        foreach (var (word, value) in new[] { ("True", true), ("False", false) })
        {
            if (string.CompareOrdinal(text, position, word, 0, word.Length) == 0)
            {
                position += word.Length;
                return value;
            }
        }
        throw Error("expected a string, a tuple, True or False");
    }

    private char Peek()
    {
        while (position < text.Length && text[position] is ' ' or '\t' or '\n' or '\r')
            position++;
        return position < text.Length ? text[position] : '\0';
    }

    private void Expect(char c)
    {
        if (Peek() != c)
            throw Error($"expected '{c}'");
        position++;
    }

    private readonly UserInputException Error(string problem) =>
        new($"{source}: malformed NPY header ({problem} at character {position}): {Excerpt(text)}");

    private static string Excerpt(string header)
    {
        var line = header.TrimEnd().ReplaceLineEndings(" ");
        return line.Length <= 200 ? line : line[..200] + "...";
    }
}
