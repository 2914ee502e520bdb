using System.Buffers;

namespace OnnxUnlearn.Data.Arrays;

/// <summary>
/// A data set whose samples are rows of one stored array (npz, npy, IDX, CSV). Samples are decoded,
/// re-laid-out and normalized on each read, straight from the (possibly memory-mapped) bytes.
/// Owns the sample array; thread-safe for reads.
/// </summary>
internal sealed class ArrayDataset : ILabeledDataset
{
    private readonly RawArray samples;
    private readonly int[] labels;
    private readonly int[]? sourceIndexMap;
    private readonly SampleNormalizer normalizer;

    /// <exception cref="UserInputException">The shapes, counts or preprocessing do not fit the target.</exception>
    public ArrayDataset(string source, RawArray samples, int[] labels, InputSpec target, Preprocessing preprocessing)
    {
        if (!samples.Format.IsSampleType)
            throw new UserInputException($"{source}: {samples.Name} has dtype '{samples.Format}', which is not supported for samples; save it as float32, float16, float64 or uint8");
        if (samples.Shape.Length < 2)
            throw new UserInputException($"{source}: {samples.Name} has shape {RawArray.FormatShape(samples.Shape)}; samples need a leading sample dimension, e.g. [N,1,28,28] or [N,784]");
        if (samples.Count == 0)
            throw new UserInputException($"{source}: {samples.Name} has no samples");
        if (samples.Count != labels.Length)
            throw new UserInputException($"{source}: {samples.Name} has {samples.Count} samples but there are {labels.Length} labels; they must match one to one");

        Source = source;
        Target = target;
        this.samples = samples;
        this.labels = labels;
        Labels = Array.AsReadOnly(labels);
        sourceIndexMap = SampleLayout.SourceIndexMap(samples.SampleDims, target, source, samples.Name);
        normalizer = SampleNormalizer.Create(preprocessing, target);
    }

    public string Source { get; }

    public int Count => labels.Length;

    public IReadOnlyList<int> Labels { get; }

    public IReadOnlyList<string>? ClassNames { get; init; }

    public int SkippedCount => 0;

    public bool HoldsPixels => samples.Format.Type == ElementType.UInt8;

    public InputSpec Target { get; }

    public void ReadSamples(ReadOnlySpan<int> indices, Span<float> destination)
    {
        SampleRequest.Validate(indices, destination, Count, Target.SampleSize);
        var size = Target.SampleSize;
        var needsSwap = samples.Format.BigEndian && samples.Format.Size > 1;
        var floats = sourceIndexMap is null ? null : ArrayPool<float>.Shared.Rent(size);
        var swapBytes = needsSwap ? ArrayPool<byte>.Shared.Rent(size * samples.Format.Size) : null;
        try
        {
            for (var i = 0; i < indices.Length; i++)
            {
                var sample = destination.Slice(i * size, size);
                var decoded = floats is null ? sample : floats.AsSpan(0, size);
                ElementDecoder.ToFloat(samples.SampleBytes(indices[i]), samples.Format, decoded, swapBytes);
                if (sourceIndexMap is not null)
                {
                    for (var t = 0; t < sample.Length; t++)
                        sample[t] = decoded[sourceIndexMap[t]];
                }
                normalizer.Apply(sample);
            }
        }
        finally
        {
            if (floats is not null)
                ArrayPool<float>.Shared.Return(floats);
            if (swapBytes is not null)
                ArrayPool<byte>.Shared.Return(swapBytes);
        }
    }

    public void Dispose() => samples.Dispose();
}
