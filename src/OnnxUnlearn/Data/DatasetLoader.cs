using OnnxUnlearn.Data.Arrays;
using OnnxUnlearn.Data.Csv;
using OnnxUnlearn.Data.Idx;
using OnnxUnlearn.Data.Images;
using OnnxUnlearn.Data.Npy;

namespace OnnxUnlearn.Data;

/// <summary>Opens labelled data in any supported format, converted to what a model input wants.</summary>
public static class DatasetLoader
{
    /// <summary>How messages name the array of a .npy or IDX file, which has no name of its own.</summary>
    private const string StandaloneArrayName = "the array";

    /// <summary>
    /// Opens <see cref="DataOptions.Path"/>, picking the format from the path: a directory is an
    /// image folder; .npz; .npy (labels in <see cref="DataOptions.LabelsPath"/>, a .npy); .csv;
    /// IDX (a name with "idx" + digit or ending "ubyte", optionally .gz; labels in LabelsPath, an IDX
    /// file). Shapes, dtypes and counts are checked against <paramref name="target"/> here, so that
    /// a data set that opens can be read (image files are decoded only when read). The caller owns
    /// (disposes) the result.
    /// </summary>
    /// <exception cref="UserInputException">Missing, empty or malformed files, or data that does not fit the target; the message names the file and what to do.</exception>
    public static ILabeledDataset Open(DataOptions options, InputSpec target)
    {
        if (target.SampleDims.Length == 0 || target.SampleDims.Any(d => d <= 0))
            throw new ArgumentException($"the target input must have fixed positive dims, got {target}", nameof(target));
        try
        {
            return OpenFormat(options, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{options.Path}: cannot read the data ({e.Message})", e);
        }
    }

    /// <summary>Fails on the first label outside [0, <paramref name="numClasses"/>).</summary>
    /// <exception cref="UserInputException">"data.npz: label 12 at index 345 is outside the model's 10 classes".</exception>
    public static void CheckLabels(ILabeledDataset data, int numClasses)
    {
        var labels = data.Labels;
        for (var i = 0; i < labels.Count; i++)
        {
            if ((uint)labels[i] >= (uint)numClasses)
                throw new UserInputException($"{data.Source}: label {labels[i]} at index {i} is outside the model's {numClasses} classes");
        }
    }

    private static ILabeledDataset OpenFormat(DataOptions options, InputSpec target)
    {
        var path = options.Path;
        if (Directory.Exists(path))
            return OpenImageFolder(options, target);
        CheckFile(path, "data");

        var name = Path.GetFileName(path).ToLowerInvariant();
        var extension = Path.GetExtension(name);
        if (extension == ".csv")
        {
            var (features, labels) = CsvTable.Read(path, options.LabelColumn, target);
            return CreateArrayDataset(options, target, features, labels);
        }
        if (extension == ".npz")
        {
            var (samples, labels) = NpzArchive.Read(path, options.XKey, options.YKey);
            return CreateArrayDataset(options, target, samples, labels);
        }
        if (extension == ".npy")
        {
            var labels = ReadNpyLabels(options);
            return CreateArrayDataset(options, target, NpyArray.OpenFile(path, StandaloneArrayName), labels);
        }
        if (IsIdxName(name))
        {
            var labels = ReadIdxLabels(options);
            return CreateArrayDataset(options, target, IdxFile.Open(path, StandaloneArrayName), labels);
        }
        throw new UserInputException($"{path}: unknown data format; use .npz, .npy (with --labels), .csv, IDX files (…-idx3-ubyte[.gz] with --labels) or an image folder");
    }

    private static ILabeledDataset OpenImageFolder(DataOptions options, InputSpec target)
    {
        ImageFolderDataset.CheckTarget(options.Path, target);
        var index = ImageFolderIndex.Scan(options.Path, options.ClassMapPath, options.SkipBad);
        return new ImageFolderDataset(options.Path, index, target, options.Preprocessing);
    }

    private static ArrayDataset CreateArrayDataset(DataOptions options, InputSpec target, RawArray samples, int[] labels)
    {
        try
        {
            var classNames = options.ClassMapPath is null ? null : ClassMap.Read(options.ClassMapPath);
            if (classNames is not null)
                CheckLabelsNamed(options.Path, labels, classNames.Length, options.ClassMapPath!);
            return new ArrayDataset(options.Path, samples, labels, target, options.Preprocessing)
            {
                ClassNames = classNames is null ? null : Array.AsReadOnly(classNames),
            };
        }
        catch
        {
            samples.Dispose();
            throw;
        }
    }

    private static void CheckLabelsNamed(string path, int[] labels, int nameCount, string classMapPath)
    {
        var at = Array.FindIndex(labels, label => (uint)label >= (uint)nameCount);
        if (at >= 0)
            throw new UserInputException($"{path}: label {labels[at]} at index {at} has no name in the class map {classMapPath} ({nameCount} names)");
    }

    private static int[] ReadNpyLabels(DataOptions options)
    {
        var labelsPath = RequireLabelsPath(options, "a .npy of integer labels");
        CheckFile(labelsPath, "labels");
        using var labels = NpyArray.OpenFile(labelsPath, StandaloneArrayName);
        return LabelArray.Read(labels, labelsPath);
    }

    private static int[] ReadIdxLabels(DataOptions options)
    {
        var labelsPath = RequireLabelsPath(options, "the IDX labels file, e.g. train-labels-idx1-ubyte.gz");
        CheckFile(labelsPath, "labels");
        using var labels = IdxFile.Open(labelsPath, StandaloneArrayName);
        return LabelArray.Read(labels, labelsPath);
    }

    private static string RequireLabelsPath(DataOptions options, string what) =>
        options.LabelsPath ?? throw new UserInputException($"{options.Path}: this format holds no labels; give --labels with {what}");

    private static void CheckFile(string path, string what)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
            throw new UserInputException($"{path}: {what} file not found");
        if (file.Length == 0)
            throw new UserInputException($"{path}: the {what} file is empty");
    }

    private static bool IsIdxName(string lowerName)
    {
        var name = lowerName.EndsWith(".gz", StringComparison.Ordinal) ? lowerName[..^3] : lowerName;
        if (name.EndsWith("ubyte", StringComparison.Ordinal) || name.EndsWith(".idx", StringComparison.Ordinal))
            return true;
        var at = name.IndexOf("idx", StringComparison.Ordinal);
        return at >= 0 && at + 3 < name.Length && char.IsAsciiDigit(name[at + 3]);
    }
}
