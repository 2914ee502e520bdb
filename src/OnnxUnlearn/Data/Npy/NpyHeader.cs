using System.Buffers.Binary;
using System.Text;

namespace OnnxUnlearn.Data.Npy;

/// <summary>
/// The header of an NPY array (format versions 1.0, 2.0 and 3.0): the dtype string, the memory
/// order and the shape, plus where the data starts. The dict literal is parsed strictly, as numpy
/// writes it: <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (60000, 28, 28), }</c>.
/// </summary>
internal sealed record NpyHeader(string Descr, bool FortranOrder, long[] Shape, int DataOffset)
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the header from the start of a stream, leaving the stream at the first data byte.</summary>
    /// <exception cref="UserInputException">Not an NPY array, or a malformed header; the message names <paramref name="source"/>.</exception>
    public static NpyHeader Read(Stream stream, string source)
    {
        Span<byte> preamble = stackalloc byte[12];
        var got = stream.ReadAtLeast(preamble, preamble.Length, throwOnEndOfStream: false);
        if (got < 10 || !preamble[..6].SequenceEqual(Magic))
            throw new UserInputException($"{source}: not an NPY array (the file does not start with the NPY magic bytes)");

        int major = preamble[6], minor = preamble[7];
        if (major is not (1 or 2 or 3) || minor != 0)
            throw new UserInputException($"{source}: NPY format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)");

        var lengthSize = major == 1 ? 2 : 4;
        if (got < 8 + lengthSize)
            throw new UserInputException($"{source}: the NPY header is truncated");
        long headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..])
            : BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..]);
        if (headerLength > 1 << 20)
            throw new UserInputException($"{source}: the NPY header claims {headerLength} bytes, which is not plausible; the file is damaged");

        var header = new byte[headerLength];
        var consumed = got - 8 - lengthSize; // header bytes already read with the preamble
        preamble.Slice(8 + lengthSize, consumed).CopyTo(header);
        if (stream.ReadAtLeast(header.AsSpan(consumed), header.Length - consumed, throwOnEndOfStream: false) != header.Length - consumed)
            throw new UserInputException($"{source}: the NPY header is truncated");

        var text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(header);
        var dataOffset = (int)(8 + lengthSize + headerLength);
        return NpyHeaderParser.Parse(text, source, dataOffset);
    }
}
