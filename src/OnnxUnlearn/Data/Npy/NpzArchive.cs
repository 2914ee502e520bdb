using System.IO.Compression;
using OnnxUnlearn.Data.Arrays;

namespace OnnxUnlearn.Data.Npy;

/// <summary>
/// Reads the samples and labels arrays of an .npz (a zip of .npy files, stored or deflated, as
/// np.savez and np.savez_compressed write). Each array is decompressed once: into memory when it is
/// at most <see cref="ByteStore.DefaultInMemoryLimit"/> (1 GiB), else into a temp file that is
/// memory-mapped and deleted when the data set is disposed.
/// </summary>
internal static class NpzArchive
{
    private static readonly string[] DefaultSampleKeys = ["x", "images", "data"];
    private static readonly string[] DefaultLabelKeys = ["y", "labels", "targets"];

    public static (RawArray Samples, int[] Labels) Read(string path, string? sampleKey, string? labelKey, long inMemoryLimit = ByteStore.DefaultInMemoryLimit)
    {
        try
        {
            return ReadArrays(path, sampleKey, labelKey, inMemoryLimit);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: the archive is damaged ({e.Message})", e);
        }
    }

    private static (RawArray Samples, int[] Labels) ReadArrays(string path, string? sampleKey, string? labelKey, long inMemoryLimit)
    {
        using var zip = OpenZip(path);
        var arrays = zip.Entries
            .Where(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal))
            .ToDictionary(e => e.FullName[..^4], StringComparer.Ordinal);

        var (labelName, labelEntry) = Find(arrays, labelKey, DefaultLabelKeys, "--y-key", path);
        var (sampleName, sampleEntry) = Find(arrays, sampleKey, DefaultSampleKeys, "--x-key", path);

        int[] labels;
        using (var stream = labelEntry.Open())
        using (var labelArray = NpyArray.Load(stream, labelName, path, inMemoryLimit))
            labels = LabelArray.Read(labelArray, path);

        using var sampleStream = sampleEntry.Open();
        return (NpyArray.Load(sampleStream, sampleName, path, inMemoryLimit), labels);
    }

    private static ZipArchive OpenZip(string path)
    {
        try
        {
            return ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: not a valid .npz (zip) archive; save it with np.savez or np.savez_compressed", e);
        }
    }

    private static (string Name, ZipArchiveEntry Entry) Find(Dictionary<string, ZipArchiveEntry> arrays, string? key, string[] defaults, string flag, string path)
    {
        var present = arrays.Count == 0 ? "none" : string.Join(", ", arrays.Keys.Order(StringComparer.Ordinal));
        if (key is not null)
        {
            return arrays.TryGetValue(key, out var named)
                ? (key, named)
                : throw new UserInputException($"{path}: no array '{key}' (arrays present: {present}); pick one with {flag}");
        }
        foreach (var candidate in defaults)
        {
            if (arrays.TryGetValue(candidate, out var entry))
                return (candidate, entry);
        }
        throw new UserInputException($"{path}: none of the arrays {string.Join(", ", defaults)} is present (arrays present: {present}); pick one with {flag}");
    }
}
