using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace OnnxUnlearn.Data.Npy;

/// <summary>Writes float32/int64 arrays as an uncompressed .npz (numpy.load reads it).</summary>
public static class NpzWriter
{
    public static void Write(Stream stream, IEnumerable<(string Name, long[] Dims, Array Values)> arrays)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var (name, dims, values) in arrays)
        {
            var (descr, bytes) = values switch
            {
                float[] f => ("<f4", MemoryMarshal.AsBytes(f.AsSpan()).ToArray()),
                long[] l => ("<i8", MemoryMarshal.AsBytes(l.AsSpan()).ToArray()),
                _ => throw new ArgumentException($"array '{name}': only float32 and int64 arrays are written"),
            };
            using var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
            WriteNpy(entry, descr, dims, bytes);
        }
    }

    private static void WriteNpy(Stream stream, string descr, long[] dims, byte[] data)
    {
        var shape = dims.Length == 1 ? $"({dims[0]},)" : "(" + string.Join(", ", dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        var total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        var length = (ushort)header.Length;
        stream.Write([(byte)(length & 0xff), (byte)(length >> 8)]);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(data);
    }
}
