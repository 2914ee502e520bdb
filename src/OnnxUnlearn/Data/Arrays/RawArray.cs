namespace OnnxUnlearn.Data.Arrays;

/// <summary>
/// An N-dimensional array as stored in a file: its bytes in C order, element format and shape
/// (first dimension = samples). Owns <see cref="Data"/>.
/// </summary>
internal sealed class RawArray(string name, ByteStore data, ElementFormat format, int[] shape) : IDisposable
{
    /// <summary>The array's name in messages: 'x' in an npz, or the file it came from.</summary>
    public string Name { get; } = name;

    public ByteStore Data { get; } = data;

    public ElementFormat Format { get; } = format;

    public int[] Shape { get; } = shape;

    public int Count => Shape[0];

    public int[] SampleDims => Shape[1..];

    public int SampleLength => SampleDims.Aggregate(1, (a, b) => a * b);

    public ReadOnlySpan<byte> SampleBytes(int index)
    {
        var size = SampleLength * Format.Size;
        return Data.Slice((long)index * size, size);
    }

    public static string FormatShape(IEnumerable<int> dims) => $"[{string.Join(",", dims)}]";

    public void Dispose() => Data.Dispose();
}
