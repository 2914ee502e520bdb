using OnnxUnlearn.Data.Arrays;

namespace OnnxUnlearn.Data.Npy;

/// <summary>Opens the data of an NPY array, from a .npy file (memory-mapped) or an npz entry (loaded).</summary>
internal static class NpyArray
{
    /// <summary>Memory-maps a .npy file's data, so that a large array is never copied into managed memory.</summary>
    public static RawArray OpenFile(string path, string arrayName)
    {
        NpyHeader header;
        long fileLength;
        using (var stream = File.OpenRead(path))
        {
            header = NpyHeader.Read(stream, path);
            fileLength = stream.Length;
        }

        var (format, shape, dataLength) = Describe(header, path, arrayName);
        if (fileLength - header.DataOffset < dataLength)
            throw new UserInputException($"{path}: the data is truncated: shape {RawArray.FormatShape(shape)} of '{format}' needs {dataLength} bytes, the file has {fileLength - header.DataOffset}");
        var data = dataLength == 0 ? new MemoryByteStore([]) : ByteStore.Map(path, header.DataOffset, dataLength);
        return new RawArray(arrayName, data, format, shape);
    }

    /// <summary>Reads an array from a stream positioned at its NPY header (an npz entry), see <see cref="ByteStore.Load"/>.</summary>
    public static RawArray Load(Stream stream, string arrayName, string path, long inMemoryLimit)
    {
        var source = $"{path} (array '{arrayName}')";
        var header = NpyHeader.Read(stream, source);
        var (format, shape, dataLength) = Describe(header, path, arrayName);
        return new RawArray(arrayName, ByteStore.Load(stream, dataLength, inMemoryLimit, source), format, shape);
    }

    private static (ElementFormat Format, int[] Shape, long DataLength) Describe(NpyHeader header, string source, string arrayName)
    {
        if (header.FortranOrder)
            throw new UserInputException($"{source}: {arrayName} is Fortran-ordered; save it with np.ascontiguousarray");
        if (!ElementFormat.TryParseNumpy(header.Descr, out var format))
            throw new UserInputException($"{source}: {arrayName} has dtype '{header.Descr}', which is not supported; samples must be float32, float16, float64 or uint8 and labels integers");
        if (header.Shape.Any(d => d > int.MaxValue))
            throw new UserInputException($"{source}: {arrayName} has shape ({string.Join(",", header.Shape)}), with a dimension too large to handle");

        var shape = header.Shape.Select(d => (int)d).ToArray();
        long elements = 1;
        foreach (var dim in shape)
            elements = checked(elements * dim);
        var perSample = shape.Length > 0 && shape[0] > 0 ? elements / shape[0] * format.Size : 0;
        if (perSample > int.MaxValue)
            throw new UserInputException($"{source}: {arrayName} has samples of {perSample} bytes each, which is too large to handle");
        return (format, shape, elements * format.Size);
    }
}
