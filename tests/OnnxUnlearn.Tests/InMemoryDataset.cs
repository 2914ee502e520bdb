using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests;

/// <summary>Preprocessed samples held in an array, for tests.</summary>
public sealed class InMemoryDataset(float[] samples, int[] labels, InputSpec target, string source = "memory") : ILabeledDataset
{
    public string Source => source;
    public int Count => labels.Length;
    public IReadOnlyList<int> Labels => labels;
    public IReadOnlyList<string>? ClassNames => null;
    public int SkippedCount => 0;
    public bool HoldsPixels => false;
    public InputSpec Target => target;

    public void ReadSamples(ReadOnlySpan<int> indices, Span<float> destination)
    {
        var size = target.SampleSize;
        for (var i = 0; i < indices.Length; i++)
            samples.AsSpan(indices[i] * size, size).CopyTo(destination.Slice(i * size, size));
    }

    public void Dispose() { }

    /// <summary>
    /// An easy 4-class image task on [1, 8, 8]: Gaussian noise plus a bright 3×3 patch in the
    /// quadrant of the class.
    /// </summary>
    public static InMemoryDataset Quadrants(int perClass, int seed)
    {
        var random = new Random(seed);
        var count = perClass * 4;
        var samples = new float[count * 64];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            var label = i % 4;
            labels[i] = label;
            for (var p = 0; p < 64; p++)
                samples[i * 64 + p] = (float)(0.3 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            var (r0, c0) = (label / 2 * 4 + random.Next(2), label % 2 * 4 + random.Next(2));
            for (var r = r0; r < r0 + 3; r++)
                for (var c = c0; c < c0 + 3; c++)
                    samples[i * 64 + r * 8 + c] += 1.5f;
        }
        return new InMemoryDataset(samples, labels, new InputSpec("input", InputLayout.Nchw, [1, 8, 8]), "quadrants");
    }
}
