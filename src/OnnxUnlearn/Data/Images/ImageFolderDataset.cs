using System.Runtime.ExceptionServices;

namespace OnnxUnlearn.Data.Images;

/// <summary>
/// An image folder read lazily: only the file list and labels are held; each read decodes its
/// images in parallel (at most one per core), resizes and crops them (<see cref="ImagePixels"/>)
/// and applies the preprocessing. Thread-safe for reads; holds no open files between reads.
/// </summary>
internal sealed class ImageFolderDataset : ILabeledDataset
{
    private readonly string[] files;
    private readonly ImagePixels pixels;
    private readonly SampleNormalizer normalizer;

    public ImageFolderDataset(string root, ImageFolderIndex index, InputSpec target, Preprocessing preprocessing)
    {
        Source = root;
        Target = target;
        files = index.Files;
        Labels = Array.AsReadOnly(index.Labels);
        ClassNames = Array.AsReadOnly(index.ClassNames);
        SkippedCount = index.SkippedCount;
        pixels = new ImagePixels(target);
        normalizer = SampleNormalizer.Create(preprocessing, target);
    }

    /// <summary>Checks that images can feed <paramref name="target"/>: an image layout with 1 or 3 channels.</summary>
    public static void CheckTarget(string root, InputSpec target)
    {
        if (target.Layout == InputLayout.Flat)
            throw new UserInputException($"{root}: images need a model input with an image layout, but '{target.Name}' takes flat vectors {string.Join("x", target.SampleDims)}; convert the images to .npz instead");
        if (target.Channels is not (1 or 3))
            throw new UserInputException($"{root}: images give 1 (gray) or 3 (RGB) channels, but the model input '{target.Name}' wants {target.Channels}");
    }

    public string Source { get; }

    public int Count => files.Length;

    public IReadOnlyList<int> Labels { get; }

    public IReadOnlyList<string>? ClassNames { get; }

    public int SkippedCount { get; }

    public bool HoldsPixels => true;

    public InputSpec Target { get; }

    public unsafe void ReadSamples(ReadOnlySpan<int> indices, Span<float> destination)
    {
        SampleRequest.Validate(indices, destination, Count, Target.SampleSize);
        var size = Target.SampleSize;
        var order = indices.ToArray();
        fixed (float* start = destination)
        {
            var address = (nint)start; // a fixed pointer cannot be captured; its address can
            try
            {
                Parallel.For(0, order.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
                {
                    var sample = new Span<float>((float*)address + (long)i * size, size);
                    pixels.Decode(files[order[i]], sample);
                    normalizer.Apply(sample);
                });
            }
            catch (AggregateException e)
            {
                var first = e.InnerExceptions.OfType<UserInputException>().FirstOrDefault() ?? e.InnerExceptions[0];
                ExceptionDispatchInfo.Throw(first);
            }
        }
    }

    public void Dispose()
    {
    }
}
