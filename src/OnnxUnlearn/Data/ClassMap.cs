namespace OnnxUnlearn.Data;

/// <summary>A class map file: one class name a line, line order = class index; blank lines are ignored.</summary>
internal static class ClassMap
{
    public static string[] Read(string path)
    {
        if (!File.Exists(path))
            throw new UserInputException($"{path}: class map not found");
        var names = File.ReadLines(path).Select(line => line.Trim()).Where(line => line.Length > 0).ToArray();
        if (names.Length == 0)
            throw new UserInputException($"{path}: the class map is empty; write one class name a line");
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new UserInputException($"{path}: the class map names '{duplicate.Key}' more than once");
        return names;
    }
}
