using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using SkiaSharp;

namespace OnnxUnlearn.Tests.Data;

/// <summary>Writes small data files (NPY, NPZ, IDX, images) for the data tests.</summary>
internal static class DataFiles
{
    /// <summary>The NPY bytes of an array, as numpy writes them (header padded to 64 bytes).</summary>
    public static byte[] Npy<T>(T[] values, int[] shape, bool fortranOrder = false, int major = 1) where T : unmanaged =>
        Npy(Descr<T>(), MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), shape, fortranOrder, major);

    public static byte[] Npy(string descr, byte[] data, int[] shape, bool fortranOrder = false, int major = 1)
    {
        var tuple = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        var dict = $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {tuple}, }}";
        return NpyWithHeader(dict, data, major);
    }

    /// <summary>An NPY file with a hand-written header dict (padding and newline added).</summary>
    public static byte[] NpyWithHeader(string dict, byte[] data, int major = 1)
    {
        var lengthSize = major == 1 ? 2 : 4;
        var unpadded = 6 + 2 + lengthSize + dict.Length + 1;
        var header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var bytes = new List<byte>();
        bytes.AddRange([0x93, .. "NUMPY"u8, (byte)major, 0]);
        var length = new byte[lengthSize];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        bytes.AddRange(length);
        bytes.AddRange(Encoding.UTF8.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    public static void WriteNpz(string path, bool compressed, params (string Name, byte[] Npy)[] arrays)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, npy) in arrays)
        {
            var entry = zip.CreateEntry(name + ".npy", compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var stream = entry.Open();
            stream.Write(npy);
        }
    }

    /// <summary>An IDX file: type code, big-endian dims, big-endian elements.</summary>
    public static byte[] Idx(byte typeCode, int[] shape, byte[] bigEndianData)
    {
        var bytes = new List<byte> { 0, 0, typeCode, (byte)shape.Length };
        foreach (var dim in shape)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(b, dim);
            bytes.AddRange(b);
        }
        bytes.AddRange(bigEndianData);
        return [.. bytes];
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
            gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>Encodes RGB pixels (row-major, 3 bytes a pixel) as PNG, JPEG or WebP (lossless at quality 100).</summary>
    public static byte[] EncodeRgb(byte[] rgb, int width, int height, SKEncodedImageFormat format, int quality = 100)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (var p = 0; p < width * height; p++)
        {
            pixels[4 * p] = rgb[3 * p];
            pixels[4 * p + 1] = rgb[3 * p + 1];
            pixels[4 * p + 2] = rgb[3 * p + 2];
            pixels[4 * p + 3] = 255;
        }
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>Encodes gray pixels as a one-channel (Gray8) PNG.</summary>
    public static byte[] EncodeGrayPng(byte[] gray, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        gray.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A 24-bit uncompressed BMP (Skia cannot encode BMP): bottom-up rows of BGR, padded to 4 bytes.</summary>
    public static byte[] Bmp(byte[] rgb, int width, int height)
    {
        var rowSize = (width * 3 + 3) / 4 * 4;
        var bytes = new byte[54 + rowSize * height];
        "BM"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        for (var y = 0; y < height; y++)
        {
            var row = 54 + (height - 1 - y) * rowSize;
            for (var x = 0; x < width; x++)
            {
                var p = 3 * (y * width + x);
                bytes[row + 3 * x] = rgb[p + 2];
                bytes[row + 3 * x + 1] = rgb[p + 1];
                bytes[row + 3 * x + 2] = rgb[p];
            }
        }
        return bytes;
    }

    private static string Descr<T>() => typeof(T) switch
    {
        var t when t == typeof(float) => "<f4",
        var t when t == typeof(double) => "<f8",
        var t when t == typeof(Half) => "<f2",
        var t when t == typeof(byte) => "|u1",
        var t when t == typeof(sbyte) => "|i1",
        var t when t == typeof(short) => "<i2",
        var t when t == typeof(ushort) => "<u2",
        var t when t == typeof(int) => "<i4",
        var t when t == typeof(long) => "<i8",
        var t => throw new ArgumentException($"no NPY type for {t}"),
    };
}

/// <summary>A fresh temp folder per test, deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "onnxunlearn-data-" + Guid.NewGuid().ToString("N"));

    public string Write(string relativePath, byte[] bytes)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public string WriteText(string relativePath, string text) => Write(relativePath, Encoding.UTF8.GetBytes(text));

    public string Folder(string relativePath) => Directory.CreateDirectory(Path.Combine(Root, relativePath)).FullName;

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
