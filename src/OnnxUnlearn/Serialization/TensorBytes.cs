using System.Runtime.InteropServices;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Serialization;

/// <summary>
/// The bytes of one tensor on their way to a data file: either held in memory, or encoded from a
/// float array in the tensor's own element type, piece by piece as they are written (so a trained
/// tensor of 2 GiB or more never becomes one byte buffer: neither a protobuf field nor a span of
/// bytes can cover it).
/// </summary>
internal sealed class TensorBytes
{
    /// <summary>Elements per piece when values are written: 64 MiB of float32.</summary>
    public const int PieceElements = 1 << 24;

    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly float[]? _values;
    private readonly DataType _type;

    private TensorBytes(ReadOnlyMemory<byte> bytes, float[]? values, DataType type, long length)
    {
        _bytes = bytes;
        _values = values;
        _type = type;
        Length = length;
    }

    public long Length { get; }

    public static TensorBytes Of(ReadOnlyMemory<byte> bytes) => new(bytes, null, DataType.Float, bytes.Length);

    /// <summary><paramref name="values"/> as <paramref name="type"/>; the array is read when written, not copied.</summary>
    public static TensorBytes Of(float[] values, DataType type) => new(default, values, type, ByteCount(type, values.LongLength));

    public static bool CanEncode(DataType type) => type is DataType.Float or DataType.Float16 or DataType.Double or DataType.Bfloat16;

    public static long ByteCount(DataType type, long count) => count * ExternalLayout.ElementSize(type);

    /// <summary>Writes the bytes at the stream's position, values in pieces of <paramref name="pieceElements"/>.</summary>
    public void WriteTo(Stream stream, int pieceElements = PieceElements)
    {
        if (_values is null)
        {
            stream.Write(_bytes.Span);
            return;
        }
        // float32 goes straight from the array; other types through one piece-sized buffer.
        var buffer = _type == DataType.Float ? null : new byte[ByteCount(_type, Math.Min(pieceElements, _values.Length))];
        for (var start = 0; start < _values.Length; start += Math.Min(pieceElements, _values.Length - start))
        {
            var piece = _values.AsSpan(start, Math.Min(pieceElements, _values.Length - start));
            if (buffer is null)
            {
                stream.Write(MemoryMarshal.AsBytes(piece));
                continue;
            }
            var bytes = buffer.AsSpan(0, (int)ByteCount(_type, piece.Length));
            Encode(piece, _type, bytes);
            stream.Write(bytes);
        }
    }

    /// <summary><paramref name="values"/> in <paramref name="type"/> (bfloat16: the high half of the float32, truncated).</summary>
    public static void Encode(ReadOnlySpan<float> values, DataType type, Span<byte> destination)
    {
        switch (type)
        {
            case DataType.Float:
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                break;
            case DataType.Float16:
                var halves = MemoryMarshal.Cast<byte, Half>(destination);
                for (var i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                break;
            case DataType.Double:
                var doubles = MemoryMarshal.Cast<byte, double>(destination);
                for (var i = 0; i < values.Length; i++) doubles[i] = values[i];
                break;
            case DataType.Bfloat16:
                var words = MemoryMarshal.Cast<byte, ushort>(destination);
                for (var i = 0; i < values.Length; i++) words[i] = (ushort)(BitConverter.SingleToInt32Bits(values[i]) >> 16);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a floating-point element type");
        }
    }
}
