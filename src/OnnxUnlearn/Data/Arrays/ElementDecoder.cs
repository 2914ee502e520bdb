using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OnnxUnlearn.Data.Arrays;

/// <summary>Turns stored elements into float32 (samples) or int (labels).</summary>
internal static class ElementDecoder
{
    /// <summary>
    /// Converts sample elements (uint8 or float16/32/64, either byte order) to float32.
    /// <paramref name="swapScratch"/> must hold <paramref name="source"/>'s bytes when the data is big-endian.
    /// </summary>
    public static void ToFloat(ReadOnlySpan<byte> source, ElementFormat format, Span<float> destination, Span<byte> swapScratch)
    {
        if (format.BigEndian && format.Size > 1)
        {
            SwapBytes(source, format.Size, swapScratch);
            source = swapScratch[..source.Length];
        }

        switch (format.Type)
        {
            case ElementType.UInt8:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = source[i];
                break;
            case ElementType.Float16:
                var halves = MemoryMarshal.Cast<byte, Half>(source);
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = (float)halves[i];
                break;
            case ElementType.Float32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case ElementType.Float64:
                var doubles = MemoryMarshal.Cast<byte, double>(source);
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = (float)doubles[i];
                break;
            default:
                throw new InvalidOperationException($"sample element type {format} is not decodable; the loader should have rejected it");
        }
    }

    /// <summary>Reads one integer element (a label) in either byte order.</summary>
    public static long ToInteger(ReadOnlySpan<byte> element, ElementFormat format) => (format.Type, format.BigEndian) switch
    {
        (ElementType.UInt8, _) => element[0],
        (ElementType.Int8, _) => (sbyte)element[0],
        (ElementType.Int16, false) => BinaryPrimitives.ReadInt16LittleEndian(element),
        (ElementType.Int16, true) => BinaryPrimitives.ReadInt16BigEndian(element),
        (ElementType.UInt16, false) => BinaryPrimitives.ReadUInt16LittleEndian(element),
        (ElementType.UInt16, true) => BinaryPrimitives.ReadUInt16BigEndian(element),
        (ElementType.Int32, false) => BinaryPrimitives.ReadInt32LittleEndian(element),
        (ElementType.Int32, true) => BinaryPrimitives.ReadInt32BigEndian(element),
        (ElementType.Int64, false) => BinaryPrimitives.ReadInt64LittleEndian(element),
        (ElementType.Int64, true) => BinaryPrimitives.ReadInt64BigEndian(element),
        _ => throw new InvalidOperationException($"label element type {format} is not an integer; the loader should have rejected it"),
    };

    private static void SwapBytes(ReadOnlySpan<byte> source, int elementSize, Span<byte> destination)
    {
        destination = destination[..source.Length];
        switch (elementSize)
        {
            case 2:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case 4:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(source), MemoryMarshal.Cast<byte, uint>(destination));
                break;
            default:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(source), MemoryMarshal.Cast<byte, ulong>(destination));
                break;
        }
    }
}
