using System.Globalization;
using System.Runtime.InteropServices;
using OnnxUnlearn.Data.Arrays;

namespace OnnxUnlearn.Data.Csv;

/// <summary>
/// Reads a tabular CSV: a header row, then one sample a row; the label column (an integer class
/// index) is picked by name and every other column is a feature, in file order. Numbers use the
/// invariant culture. The whole table is held in memory as float32. Rows in messages are line
/// numbers in the file (the header is row 1), as editors and spreadsheets show them.
/// </summary>
internal static class CsvTable
{
    public const string DefaultLabelColumn = "label";

    public static (RawArray Features, int[] Labels) Read(string path, string? labelColumn, InputSpec target)
    {
        labelColumn ??= DefaultLabelColumn;
        using var reader = new StreamReader(path);
        var fields = new List<string>();
        var header = reader.ReadLine();
        if (header is null || !CsvLine.TrySplit(header, fields) || fields.All(f => f.Length == 0))
            throw new UserInputException($"{path}: the first row must be a header with the column names");
        var columns = fields.ToArray();
        var labelIndex = Array.IndexOf(columns, labelColumn);
        if (labelIndex < 0)
            throw new UserInputException($"{path}: no column '{labelColumn}' (columns: {string.Join(", ", columns)}); name the label column with --label-column");

        var featureCount = columns.Length - 1;
        if (featureCount != target.SampleSize)
            throw new UserInputException($"{path}: {featureCount} feature columns (all but '{labelColumn}'), the model input '{target.Name}' wants {target.SampleSize} ({RawArray.FormatShape(target.SampleDims)})");

        var features = new List<float>();
        var labels = new List<int>();
        var row = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            row++;
            if (line.Length == 0)
                continue;
            if (!CsvLine.TrySplit(line, fields))
                throw new UserInputException($"{path}: row {row}: a quoted field is not closed");
            if (fields.Count != columns.Length)
                throw new UserInputException($"{path}: row {row} has {fields.Count} fields, the header has {columns.Length}");
            for (var c = 0; c < columns.Length; c++)
            {
                if (c == labelIndex)
                    labels.Add(ParseLabel(fields[c], path, row, columns[c]));
                else
                    features.Add(ParseFeature(fields[c], path, row, columns[c]));
            }
        }

        if (labels.Count == 0)
            throw new UserInputException($"{path}: there are no data rows after the header");
        var bytes = MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(features)).ToArray();
        var array = new RawArray("features", new MemoryByteStore(bytes), new ElementFormat(ElementType.Float32), [labels.Count, featureCount]);
        return (array, [.. labels]);
    }

    private static float ParseFeature(string cell, string path, int row, string column) =>
        float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value)
            ? value
            : throw new UserInputException($"{path}: row {row}, column '{column}': '{cell}' is not a number");

    private static int ParseLabel(string cell, string path, int row, string column) =>
        int.TryParse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new UserInputException($"{path}: row {row}, column '{column}': '{cell}' is not an integer class index");
}
