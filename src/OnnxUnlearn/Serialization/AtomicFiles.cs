namespace OnnxUnlearn.Serialization;

/// <summary>
/// Writes one or more files so that either all of them appear complete or none does: each is
/// written to a temporary file in its destination folder, flushed to disk, and only then renamed
/// over the destination. A failure deletes the temporary files and leaves existing files untouched.
/// </summary>
public sealed class AtomicFiles : IDisposable
{
    private readonly List<(string Temp, string Final)> _pending = [];
    private bool _committed;

    /// <summary>Opens a temporary file that becomes <paramref name="path"/> on <see cref="Commit"/>.</summary>
    public FileStream Create(string path)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new UserInputException($"cannot write '{path}': folder '{folder}' does not exist");
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20);
            _pending.Add((temp, full));
            return stream;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UserInputException($"cannot write '{path}': permission denied", e);
        }
        catch (IOException e)
        {
            throw new UserInputException($"cannot write '{path}': {e.Message}", e);
        }
    }

    /// <summary>Renames every temporary file over its destination.</summary>
    public void Commit()
    {
        foreach (var (temp, final) in _pending)
        {
            try
            {
                File.Move(temp, final, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserInputException($"cannot write '{final}': {e.Message}", e);
            }
        }
        _committed = true;
    }

    /// <summary>Deletes whatever was not committed.</summary>
    public void Dispose()
    {
        if (_committed) return;
        foreach (var (temp, _) in _pending)
            try { File.Delete(temp); } catch (IOException) { }
    }

    /// <summary>Writes a single file atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var files = new AtomicFiles();
        using (var stream = files.Create(path))
        {
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        files.Commit();
    }
}
