using System.Text;

namespace OnnxUnlearn.Data.Csv;

/// <summary>Splits one CSV line at commas; fields may be double-quoted, with "" for a quote inside.</summary>
internal static class CsvLine
{
    /// <summary>Fills <paramref name="fields"/>; false when a quoted field is not closed on this line.</summary>
    public static bool TrySplit(string line, List<string> fields)
    {
        fields.Clear();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"')
                    field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"')
                    field.Append(line[++i]);
                else
                    quoted = false;
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString().Trim());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        fields.Add(field.ToString().Trim());
        return !quoted;
    }
}
