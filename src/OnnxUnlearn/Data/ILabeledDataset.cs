namespace OnnxUnlearn.Data;

/// <summary>
/// A labelled data set whose samples are converted on read to what the model's input wants
/// (<see cref="Target"/>: layout, size, preprocessing). Labels are held in memory; samples are
/// decoded on demand from memory, a memory-mapped file or image files. Open one with
/// <see cref="DatasetLoader.Open"/>; it owns its files and mappings until disposed.
/// </summary>
public interface ILabeledDataset : IDisposable
{
    /// <summary>The file or folder the data came from, for messages.</summary>
    string Source { get; }

    int Count { get; }

    /// <summary>Every sample's class index, available without decoding samples.</summary>
    IReadOnlyList<int> Labels { get; }

    /// <summary>Class index → name, for image folders and data opened with a class map; else null.</summary>
    IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Bad samples left out at open time (image folders with <see cref="DataOptions.SkipBad"/>); else 0.</summary>
    int SkippedCount { get; }

    /// <summary>The stored samples are 8-bit pixel values, 0..255 before preprocessing (uint8 arrays,
    /// IDX bytes, decoded images).</summary>
    bool HoldsPixels { get; }

    /// <summary>What each sample is converted to.</summary>
    InputSpec Target { get; }

    /// <summary>
    /// Writes the preprocessed samples at <paramref name="indices"/> (any order, repeats allowed),
    /// in <see cref="Target"/>'s layout and size, into <paramref name="destination"/>, which must
    /// hold exactly <c>indices.Length * Target.SampleSize</c> floats. Thread-safe: several threads
    /// may read at once.
    /// </summary>
    /// <exception cref="UserInputException">A sample cannot be decoded (e.g. a corrupt image); the message names it.</exception>
    void ReadSamples(ReadOnlySpan<int> indices, Span<float> destination);
}
