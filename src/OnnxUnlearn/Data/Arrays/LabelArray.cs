namespace OnnxUnlearn.Data.Arrays;

/// <summary>Reads a label array (integers, shape [N] or [N,1]) into class indices.</summary>
internal static class LabelArray
{
    public static int[] Read(RawArray labels, string source)
    {
        if (!labels.Format.IsInteger)
            throw new UserInputException($"{source}: {labels.Name} has dtype '{labels.Format}'; labels must be integer class indices (save them with .astype(np.int64))");
        if (labels.Shape.Length is not (1 or 2))
            throw new UserInputException($"{source}: {labels.Name} has shape {RawArray.FormatShape(labels.Shape)}; labels must be class indices of shape [N]");
        if (labels.Shape.Length == 2 && labels.Shape[1] > 1)
            throw new UserInputException($"{source}: {labels.Name} has shape {RawArray.FormatShape(labels.Shape)}; labels must be class indices of shape [N] (one-hot labels? save labels.argmax(1))");

        var size = labels.Format.Size;
        var result = new int[labels.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var value = ElementDecoder.ToInteger(labels.Data.Slice((long)i * size, size), labels.Format);
            if (value is < int.MinValue or > int.MaxValue)
                throw new UserInputException($"{source}: label {value} at index {i} is not a valid class index");
            result[i] = (int)value;
        }
        return result;
    }
}
