using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxUnlearn.Onnx;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Ir;

/// <summary>
/// The data of an initializer, kept as the original <see cref="TensorProto"/> and decoded only when
/// asked: weights are never copied unless they are read or edited. Data stored in an external file
/// (data_location = EXTERNAL) is read from that file, relative to <see cref="BaseDirectory"/>.
/// </summary>
public sealed class TensorData
{
    public TensorData(TensorProto proto, string? baseDirectory = null)
    {
        Proto = proto;
        BaseDirectory = baseDirectory;
    }

    public TensorProto Proto { get; }

    /// <summary>Folder of the model file, for external data; null for in-memory tensors.</summary>
    public string? BaseDirectory { get; }

    public string Name => Proto.Name;
    public long[] Dims => [.. Proto.Dims];
    public DataType ElementType => (DataType)Proto.DataType;
    public long ElementCount => Proto.Dims.Aggregate(1L, (a, b) => a * b);
    public bool IsExternal => Proto.DataLocation == TensorProto.Types.DataLocation.External;

    public bool IsFloatingPoint => ElementType is DataType.Float or DataType.Float16 or DataType.Double or DataType.Bfloat16;

    /// <summary>Reads the values as float32, converting float16/bfloat16/double.</summary>
    public float[] ToFloatArray()
    {
        var count = checked((int)ElementCount);
        switch (ElementType)
        {
            case DataType.Float:
                if (Proto.FloatData.Count > 0) return [.. Proto.FloatData];
                if (IsExternal)
                {
                    // Read straight into the result: a byte buffer first would hold the weights twice.
                    var values = GC.AllocateUninitializedArray<float>(count);
                    ReadExternal(values);
                    return values;
                }
                return MemoryMarshal.Cast<byte, float>(RawBytes(count * 4)).ToArray();
            case DataType.Double:
                if (Proto.DoubleData.Count > 0) return Proto.DoubleData.Select(d => (float)d).ToArray();
                return Array.ConvertAll(MemoryMarshal.Cast<byte, double>(RawBytes(count * 8)).ToArray(), d => (float)d);
            case DataType.Float16:
                if (Proto.Int32Data.Count > 0) return Proto.Int32Data.Select(b => (float)BitConverter.UInt16BitsToHalf((ushort)b)).ToArray();
                return Array.ConvertAll(MemoryMarshal.Cast<byte, Half>(RawBytes(count * 2)).ToArray(), h => (float)h);
            case DataType.Bfloat16:
                var bits = Proto.Int32Data.Count > 0
                    ? Proto.Int32Data.Select(b => (ushort)b).ToArray()
                    : MemoryMarshal.Cast<byte, ushort>(RawBytes(count * 2)).ToArray();
                return Array.ConvertAll(bits, b => BitConverter.Int32BitsToSingle(b << 16));
            default:
                throw new InvalidOperationException($"initializer '{Name}' has element type {ElementType}, not a floating-point type");
        }
    }

    /// <summary>Reads integer values (int64/int32/int8/uint8...) as long.</summary>
    public long[] ToInt64Array()
    {
        var count = checked((int)ElementCount);
        return ElementType switch
        {
            DataType.Int64 when Proto.Int64Data.Count > 0 => [.. Proto.Int64Data],
            DataType.Int64 => MemoryMarshal.Cast<byte, long>(RawBytes(count * 8)).ToArray(),
            DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint8 or DataType.Uint16 or DataType.Bool
                when Proto.Int32Data.Count > 0 => Proto.Int32Data.Select(v => (long)v).ToArray(),
            DataType.Int32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(RawBytes(count * 4)).ToArray(), v => (long)v),
            DataType.Int8 => Array.ConvertAll(MemoryMarshal.Cast<byte, sbyte>(RawBytes(count)).ToArray(), v => (long)v),
            DataType.Uint8 or DataType.Bool => Array.ConvertAll(RawBytes(count).ToArray(), v => (long)v),
            DataType.Float or DataType.Double or DataType.Float16 => Array.ConvertAll(ToFloatArray(), v => (long)v),
            _ => throw new InvalidOperationException($"initializer '{Name}' has element type {ElementType}, not an integer type"),
        };
    }

    /// <summary>The little-endian element bytes, from raw_data or the external file.</summary>
    public ReadOnlySpan<byte> RawBytes(int expectedLength)
    {
        var bytes = IsExternal ? ReadExternal() : Proto.RawData.Span;
        if (bytes.Length != expectedLength)
            throw new UserInputException($"initializer '{Name}' holds {bytes.Length} bytes of data, its shape [{string.Join(",", Dims)}] needs {expectedLength}; the model file is damaged");
        return bytes;
    }

    private byte[] ReadExternal()
    {
        using var stream = OpenExternal(out var offset, out var length);
        var buffer = new byte[length ?? stream.Length - offset];
        stream.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>Fills <paramref name="destination"/> from the external data, which must be exactly that long.</summary>
    private void ReadExternal(float[] destination)
    {
        using var stream = OpenExternal(out var offset, out var length);
        var bytes = destination.LongLength * sizeof(float);
        if ((length ?? stream.Length - offset) != bytes)
            throw new UserInputException($"initializer '{Name}' holds {length ?? stream.Length - offset} bytes of data, its shape [{string.Join(",", Dims)}] needs {bytes}; the model file is damaged");
        // In pieces: a span of bytes cannot cover more than 2 GiB.
        const int piece = 1 << 28;
        for (var start = 0; start < destination.Length; start += piece)
            stream.ReadExactly(MemoryMarshal.AsBytes(destination.AsSpan(start, Math.Min(piece, destination.Length - start))));
    }

    /// <summary>The external data file, positioned at this tensor's offset.</summary>
    private FileStream OpenExternal(out long offset, out long? length)
    {
        (var location, offset, length) = ExternalDataInfo.Of(Proto);
        if (BaseDirectory is null)
            throw new InvalidOperationException($"initializer '{Name}' refers to external data but the model was not loaded from a file");
        var path = Path.Combine(BaseDirectory, location);
        if (!File.Exists(path))
            throw new UserInputException($"initializer '{Name}': external data file '{path}' not found; keep it beside the model file");
        var stream = File.OpenRead(path);
        stream.Seek(offset, SeekOrigin.Begin);
        return stream;
    }

    /// <summary>A float32 tensor with the data inline (raw_data).</summary>
    public static TensorData FromFloats(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        proto.Dims.AddRange(dims.ToArray());
        return new TensorData(proto);
    }

    /// <summary>An int64 tensor with the data inline (raw_data).</summary>
    public static TensorData FromInt64s(string name, ReadOnlySpan<long> dims, ReadOnlySpan<long> values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        proto.Dims.AddRange(dims.ToArray());
        return new TensorData(proto);
    }
}

/// <summary>The "location", "offset" and "length" entries of an external-data TensorProto.</summary>
public static class ExternalDataInfo
{
    public static (string Location, long Offset, long? Length) Of(TensorProto proto)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "length": length = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
            }
        }
        if (location is null)
            throw new UserInputException($"initializer '{proto.Name}' is marked external but names no 'location'; the model file is damaged");
        return (location, offset, length);
    }
}
