using CommandLine;
using OnnxUnlearn.Data;

namespace OnnxUnlearn.Cli;

/// <summary>The flags that say where labelled data is and how to read it (every format
/// <see cref="DatasetLoader"/> reads), shared by the verbs that take --data.</summary>
public abstract class DataOptionsBase : CommonOptions
{
    [Option("data", Required = true, HelpText = "Labelled data: .npz (arrays x, y), .npy (with --labels), .csv, IDX files (with --labels) or an image folder (one sub-folder per class).")]
    public string Data { get; set; } = "";

    [Option("labels", HelpText = "Labels file for .npy data (.npy of integers) or IDX data (IDX labels file).")]
    public string? Labels { get; set; }

    [Option("x-key", HelpText = "Name of the samples array in an .npz (default: the first of x, images, data).")]
    public string? XKey { get; set; }

    [Option("y-key", HelpText = "Name of the labels array in an .npz (default: the first of y, labels, targets).")]
    public string? YKey { get; set; }

    [Option("preprocess", HelpText = "Preprocessing preset: imagenet, cifar10, mnist, fmnist or none; --scale/--mean/--std override its values. Default: what the model's metadata records (models written by onnx-unlearn do), else none.")]
    public string? Preprocess { get; set; }

    [Option("scale", HelpText = "Factor applied to raw values first, e.g. 1/255.")]
    public string? Scale { get; set; }

    [Option("mean", HelpText = "Mean subtracted after scaling: one value or one per channel, comma-separated.")]
    public string? Mean { get; set; }

    [Option("std", HelpText = "Standard deviation divided by after the mean: one value or one per channel, comma-separated.")]
    public string? Std { get; set; }

    [Option("class-map", HelpText = "Text file with one class name a line, in class-index order.")]
    public string? ClassMap { get; set; }

    [Option("label-column", HelpText = "CSV column holding the labels (default: label).")]
    public string? LabelColumn { get; set; }

    [Option("skip-bad", HelpText = "Image folders: skip files that cannot be decoded instead of failing, and count them.")]
    public bool SkipBad { get; set; }

    /// <summary>The data options for <see cref="Data"/>, or for another file read with the same
    /// flags (e.g. a --test set). Without preprocessing flags, the preprocessing recorded in
    /// <paramref name="model"/>'s metadata applies.</summary>
    /// <exception cref="UserInputException">A bad preprocessing value.</exception>
    public DataOptions ToDataOptions(Ir.Model model, string? path = null) => new()
    {
        Path = path ?? Data,
        LabelsPath = Labels,
        XKey = XKey,
        YKey = YKey,
        Preprocessing = !HasPreprocessingFlags && model.GetMetadata(Preprocessing.MetadataKey) is { } stored
            ? Preprocessing.FromMetadata(stored, model.Path ?? "model")
            : Preprocessing.Parse(Preprocess, Scale, Mean, Std),
        ClassMapPath = ClassMap,
        LabelColumn = LabelColumn,
        SkipBad = SkipBad,
    };

    /// <summary>
    /// Warns on <paramref name="err"/> when <paramref name="data"/> holds raw 8-bit pixels and nothing
    /// says how to normalise them (no preprocessing flag, none recorded in <paramref name="model"/>):
    /// the model then gets values 0..255, rarely what it was trained on, and every accuracy and
    /// update is silently wrong.
    /// </summary>
    public void WarnIfUnscaledPixels(ILabeledDataset data, Ir.Model model, TextWriter err)
    {
        if (data.HoldsPixels && !HasPreprocessingFlags && model.GetMetadata(Preprocessing.MetadataKey) is null)
            err.WriteLine($"warning: {data.Source} holds 8-bit pixels and neither a preprocessing flag nor the model's metadata says how to " +
                "normalise them, so the model gets values 0..255; give the preprocessing it was trained with (--preprocess " +
                $"{string.Join("|", Preprocessing.PresetNames.Where(n => n != "none"))}, or --scale/--mean/--std), or --preprocess none if it takes raw pixels");
    }

    private bool HasPreprocessingFlags => Preprocess is not null || Scale is not null || Mean is not null || Std is not null;
}
