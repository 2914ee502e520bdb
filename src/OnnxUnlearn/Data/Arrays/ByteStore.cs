using System.IO.MemoryMappedFiles;

namespace OnnxUnlearn.Data.Arrays;

/// <summary>
/// The raw bytes of an array's data (its header stripped), either in managed memory or
/// memory-mapped from a file, so that large arrays are paged in by the OS instead of being copied
/// into the managed heap. Reads are thread-safe; the store owns its mapping and temp file.
/// </summary>
internal abstract class ByteStore : IDisposable
{
    /// <summary>Arrays that must be decompressed (npz deflate, .gz) stay in memory up to this size; larger ones go to a temp file that is memory-mapped.</summary>
    public const long DefaultInMemoryLimit = 1L << 30;

    public abstract long Length { get; }

    public abstract ReadOnlySpan<byte> Slice(long offset, int length);

    public abstract void Dispose();

    /// <summary>Maps <paramref name="length"/> bytes of a file starting at <paramref name="offset"/>.</summary>
    public static ByteStore Map(string path, long offset, long length) =>
        new MappedByteStore(MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read), offset, length);

    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes from a (decompressing) stream: into memory when
    /// they fit <paramref name="inMemoryLimit"/>, else into a temp file that is deleted on dispose.
    /// </summary>
    public static ByteStore Load(Stream stream, long length, long inMemoryLimit, string source)
    {
        if (length <= inMemoryLimit && length <= Array.MaxLength)
        {
            var bytes = GC.AllocateUninitializedArray<byte>((int)length);
            ReadExactly(stream, bytes, source);
            return new MemoryByteStore(bytes);
        }

        var tempPath = Path.GetTempFileName();
        var file = new FileStream(tempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        try
        {
            var buffer = new byte[1 << 20];
            for (long left = length; left > 0;)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, left));
                ReadExactly(stream, chunk, source);
                file.Write(chunk);
                left -= chunk.Length;
            }
            file.Flush();
            var map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            return new MappedByteStore(map, 0, length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string source)
    {
        try
        {
            stream.ReadExactly(destination);
        }
        catch (EndOfStreamException e)
        {
            throw new UserInputException($"{source}: the data is truncated; the file is incomplete or damaged", e);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{source}: the compressed data is damaged ({e.Message})", e);
        }
    }
}

internal sealed class MemoryByteStore(byte[] bytes) : ByteStore
{
    public override long Length => bytes.Length;

    public override ReadOnlySpan<byte> Slice(long offset, int length) => bytes.AsSpan((int)offset, length);

    public override void Dispose()
    {
    }
}

internal sealed unsafe class MappedByteStore : ByteStore
{
    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private readonly byte* start;
    private int disposed;

    public MappedByteStore(MemoryMappedFile map, long offset, long length)
    {
        this.map = map;
        view = map.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        start = pointer + view.PointerOffset;
        Length = length;
    }

    public override long Length { get; }

    public override ReadOnlySpan<byte> Slice(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + length, Length);
        return new ReadOnlySpan<byte>(start + offset, length);
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }
}
