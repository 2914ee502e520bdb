namespace OnnxUnlearn.Data;

/// <summary>Checks the arguments of <see cref="ILabeledDataset.ReadSamples"/> (caller bugs, not user errors).</summary>
internal static class SampleRequest
{
    public static void Validate(ReadOnlySpan<int> indices, Span<float> destination, int count, int sampleSize)
    {
        if (destination.Length != (long)indices.Length * sampleSize)
            throw new ArgumentException($"destination holds {destination.Length} floats, but {indices.Length} samples of {sampleSize} need {(long)indices.Length * sampleSize}", nameof(destination));
        foreach (var index in indices)
        {
            if ((uint)index >= (uint)count)
                throw new ArgumentOutOfRangeException(nameof(indices), index, $"sample index must be in [0, {count})");
        }
    }
}
