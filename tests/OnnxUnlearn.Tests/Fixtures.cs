using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace OnnxUnlearn.Tests;

/// <summary>Paths of the repository's sample models and fixtures, and a reader for fixture .npz files.</summary>
public static partial class Fixtures
{
    public static string Root { get; } = FindRoot();

    public static string Model(string name) => Path.Combine(Root, "models", name);

    public static string File(string name) => Path.Combine(Root, "tests", "fixtures", name);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "OnnxUnlearn.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above the test directory");
    }

    /// <summary>Every array of a little-endian float32/float64/int64 .npz, as float64 with its shape.</summary>
    public static Dictionary<string, (long[] Shape, double[] Values)> ReadNpz(string path)
    {
        var result = new Dictionary<string, (long[], double[])>();
        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries)
        {
            using var stream = entry.Open();
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            var headerLength = bytes[8] | bytes[9] << 8;
            var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
            var descr = DescrPattern().Match(header).Groups[1].Value;
            var shape = ShapePattern().Match(header).Groups[1].Value
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
            var data = bytes.AsSpan(10 + headerLength);
            double[] values = descr switch
            {
                "<f4" => MemoryMarshal.Cast<byte, float>(data).ToArray().Select(v => (double)v).ToArray(),
                "<f8" => MemoryMarshal.Cast<byte, double>(data).ToArray(),
                "<i8" => MemoryMarshal.Cast<byte, long>(data).ToArray().Select(v => (double)v).ToArray(),
                _ => throw new NotSupportedException($"{path}: {entry.FullName} has dtype {descr}"),
            };
            result[entry.FullName[..^4]] = (shape, values);
        }
        return result;
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
