using System.Globalization;

namespace OnnxUnlearn.Cli;

/// <summary>Parses a class list such as "3,5" (or class names, when the data names its classes).</summary>
public static class ClassArgument
{
    /// <summary>
    /// The classes in <paramref name="text"/>: comma-separated indices, or names from
    /// <paramref name="classNames"/> (image folders, --class-map). Each must be in [0, classCount)
    /// and appear once.
    /// </summary>
    /// <exception cref="UserInputException">An empty, unknown, out-of-range or repeated class; the message names <paramref name="flag"/>.</exception>
    public static SortedSet<int> Parse(string text, int classCount, IReadOnlyList<string>? classNames = null, string flag = "--classes")
    {
        var result = new SortedSet<int>();
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0)
                throw new UserInputException($"{flag} '{text}': empty class in the list; write e.g. {flag} 3,5");
            int index;
            if (int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
            {
                if (number < 0 || number >= classCount)
                    throw new UserInputException($"{flag}: class {number} is outside the model's {classCount} classes (0..{classCount - 1})");
                index = number;
            }
            else
            {
                index = classNames is null ? -1 : IndexOf(classNames, item);
                if (index < 0)
                    throw new UserInputException(classNames is null
                        ? $"{flag}: '{item}' is not a class index (0..{classCount - 1})"
                        : $"{flag}: '{item}' is neither a class index (0..{classCount - 1}) nor a class name of the data");
                if (index >= classCount)
                    throw new UserInputException($"{flag}: class '{item}' has index {index}, outside the model's {classCount} classes");
            }
            if (!result.Add(index))
                throw new UserInputException($"{flag}: class {item} is listed twice");
        }
        return result;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
            if (string.Equals(names[i], name, StringComparison.Ordinal)) return i;
        return -1;
    }
}
