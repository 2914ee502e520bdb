using System.Buffers.Binary;
using System.IO.Compression;
using OnnxUnlearn.Data.Arrays;

namespace OnnxUnlearn.Data.Idx;

/// <summary>
/// Reads an IDX file (the MNIST family: train-images-idx3-ubyte, plain or gzipped). Layout: two
/// zero bytes, a type code, the dimension count, each dimension as a big-endian int32, then the
/// elements in C order, big-endian. Plain files are memory-mapped; gzipped ones are decompressed as
/// <see cref="ByteStore.Load"/> does.
/// </summary>
internal static class IdxFile
{
    public static RawArray Open(string path, string arrayName, long inMemoryLimit = ByteStore.DefaultInMemoryLimit)
    {
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> start = stackalloc byte[2];
            var isGzip = file.ReadAtLeast(start, 2, throwOnEndOfStream: false) == 2 && start[0] == 0x1f && start[1] == 0x8b;
            file.Position = 0;
            if (!isGzip)
                return OpenPlain(file, path, arrayName);

            using var unzipped = new GZipStream(file, CompressionMode.Decompress);
            var (format, shape, _) = ReadHeader(unzipped, path);
            var data = ByteStore.Load(unzipped, DataLength(format, shape), inMemoryLimit, path);
            if (unzipped.ReadByte() >= 0)
            {
                data.Dispose();
                throw new UserInputException($"{path}: there is more data than the header's dims {RawArray.FormatShape(shape)} describe; the file is damaged");
            }
            return new RawArray(arrayName, data, format, shape);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: the gzip data is damaged ({e.Message})", e);
        }
    }

    private static RawArray OpenPlain(FileStream file, string path, string arrayName)
    {
        var (format, shape, headerLength) = ReadHeader(file, path);
        var dataLength = DataLength(format, shape);
        if (file.Length != headerLength + dataLength)
            throw new UserInputException($"{path}: the header's dims {RawArray.FormatShape(shape)} of {format.Type} need {headerLength + dataLength} bytes, the file has {file.Length}; it is damaged or not an IDX file");
        var data = dataLength == 0 ? new MemoryByteStore([]) : ByteStore.Map(path, headerLength, dataLength);
        return new RawArray(arrayName, data, format, shape);
    }

    private static (ElementFormat Format, int[] Shape, int HeaderLength) ReadHeader(Stream stream, string path)
    {
        Span<byte> magic = stackalloc byte[4];
        if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) != 4 || magic[0] != 0 || magic[1] != 0)
            throw new UserInputException($"{path}: not an IDX file (it must start with two zero bytes, a type code and the number of dimensions)");

        ElementType? type = magic[2] switch
        {
            0x08 => ElementType.UInt8,
            0x09 => ElementType.Int8,
            0x0B => ElementType.Int16,
            0x0C => ElementType.Int32,
            0x0D => ElementType.Float32,
            0x0E => ElementType.Float64,
            _ => null,
        };
        if (type is null)
            throw new UserInputException($"{path}: unknown IDX type code 0x{magic[2]:X2} (valid: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)");
        if (magic[3] == 0)
            throw new UserInputException($"{path}: the IDX header declares zero dimensions");

        var dimBytes = new byte[4 * magic[3]];
        if (stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false) != dimBytes.Length)
            throw new UserInputException($"{path}: the IDX header is truncated");
        var shape = new int[magic[3]];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * i));
            if (shape[i] < 0)
                throw new UserInputException($"{path}: the IDX header has a negative dimension ({shape[i]})");
        }
        return (new ElementFormat(type.Value, BigEndian: true), shape, 4 + dimBytes.Length);
    }

    private static long DataLength(ElementFormat format, int[] shape) =>
        shape.Aggregate((long)format.Size, (total, dim) => checked(total * dim));
}
