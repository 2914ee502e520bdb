namespace OnnxUnlearn.Data.Images;

/// <summary>
/// The files and labels of an image folder (torchvision's ImageFolder convention): one sub-folder
/// per class, images anywhere below it. Classes are indexed in ordinal order of their folder names,
/// or in the order of a class map. Hidden entries (names starting with '.') are ignored, and so are
/// files that are not .png, .jpg, .jpeg, .bmp or .webp.
/// </summary>
internal sealed record ImageFolderIndex(string[] ClassNames, string[] Files, int[] Labels, int SkippedCount)
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    /// <summary>Lists the folder; with <paramref name="skipBad"/>, leaves out files whose image header cannot be read.</summary>
    /// <exception cref="UserInputException">No class folders, an empty class folder, or a class map that does not match the folders.</exception>
    public static ImageFolderIndex Scan(string root, string? classMapPath, bool skipBad)
    {
        var folders = Directory.GetDirectories(root)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => !name.StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (folders.Length == 0)
            throw new UserInputException($"{root}: no class sub-folders; an image folder needs one sub-folder of images per class");

        var classNames = classMapPath is null ? folders : MatchClassMap(root, folders, ClassMap.Read(classMapPath), classMapPath);
        var files = new List<string>();
        var labels = new List<int>();
        var skipped = 0;
        for (var label = 0; label < classNames.Length; label++)
        {
            var folder = Path.Combine(root, classNames[label]);
            var images = ListImages(folder);
            if (skipBad)
            {
                var readable = images.AsParallel().AsOrdered().Where(ImagePixels.HasReadableHeader).ToArray();
                skipped += images.Length - readable.Length;
                images = readable;
            }
            if (images.Length == 0)
                throw new UserInputException($"{folder}: the class folder has no {(skipBad ? "readable " : "")}images ({string.Join(", ", Extensions)})");
            files.AddRange(images);
            labels.AddRange(Enumerable.Repeat(label, images.Length));
        }
        return new ImageFolderIndex(classNames, [.. files], [.. labels], skipped);
    }

    private static string[] MatchClassMap(string root, string[] folders, string[] classMap, string classMapPath)
    {
        var unmapped = folders.Except(classMap, StringComparer.Ordinal).ToList();
        if (unmapped.Count > 0)
            throw new UserInputException($"{classMapPath}: the class folders {string.Join(", ", unmapped)} in {root} are not in the class map; add them or remove the folders");
        var missing = classMap.Except(folders, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw new UserInputException($"{classMapPath}: the classes {string.Join(", ", missing)} have no folder in {root}");
        return classMap;
    }

    private static string[] ListImages(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(file => !Path.GetRelativePath(folder, file).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
            .Where(file => Extensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToArray();
}
