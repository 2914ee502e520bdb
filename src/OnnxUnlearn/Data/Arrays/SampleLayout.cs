namespace OnnxUnlearn.Data.Arrays;

/// <summary>
/// How the per-sample dims of stored data map onto the model's input: as they are (same dims, or
/// the same elements in the same C order), or by a transpose between CHW and HWC.
/// </summary>
internal static class SampleLayout
{
    /// <summary>
    /// For each target element, the index of the source element it comes from; null when the
    /// source's C order already is the target's (no copy needed). Accepted sources: the target's
    /// own dims; the other image layout (CHW for an NHWC model, HWC for an NCHW one); [H,W] for a
    /// one-channel image; a flat vector of the target's size (reshaped in the target's C order);
    /// and any image for a flat target of the same size (flattened in C order).
    /// </summary>
    /// <exception cref="UserInputException">No rule matches; the message names both shapes.</exception>
    public static int[]? SourceIndexMap(int[] sourceDims, InputSpec target, string source, string arrayName)
    {
        var sourceSize = sourceDims.Aggregate(1L, (a, b) => a * b);
        if (sourceDims.SequenceEqual(target.SampleDims))
            return null;
        if (target.Layout == InputLayout.Flat || sourceDims.Length == 1)
        {
            if (sourceSize == target.SampleSize)
                return null;
        }
        else
        {
            int c = target.Channels, h = target.Height, w = target.Width;
            if (c == 1 && sourceDims.SequenceEqual([h, w]))
                return null;
            if (target.Layout == InputLayout.Nchw && sourceDims.SequenceEqual([h, w, c]))
                return HwcToChw(c, h, w);
            if (target.Layout == InputLayout.Nhwc && sourceDims.SequenceEqual([c, h, w]))
                return ChwToHwc(c, h, w);
        }

        throw new UserInputException(
            $"{source}: {arrayName} has samples of shape {RawArray.FormatShape(sourceDims)}, the model input '{target.Name}' wants " +
            $"{RawArray.FormatShape(target.SampleDims)} ({target.Layout.ToString().ToUpperInvariant()})");
    }

    private static int[] HwcToChw(int channels, int height, int width)
    {
        var map = new int[channels * height * width];
        var t = 0;
        for (var c = 0; c < channels; c++)
        {
            for (var p = 0; p < height * width; p++)
                map[t++] = p * channels + c;
        }
        return map;
    }

    private static int[] ChwToHwc(int channels, int height, int width)
    {
        var map = new int[channels * height * width];
        var t = 0;
        for (var p = 0; p < height * width; p++)
        {
            for (var c = 0; c < channels; c++)
                map[t++] = c * height * width + p;
        }
        return map;
    }
}
