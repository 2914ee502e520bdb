namespace OnnxUnlearn.Data;

/// <summary>Where the data is and how to read it: what the CLI's data flags give.</summary>
public sealed class DataOptions
{
    /// <summary>A .npz, .npy, .csv or IDX (…-ubyte[.gz]) file, or an image folder (one sub-folder per class).</summary>
    public required string Path { get; init; }

    /// <summary>The labels file for .npy data (a .npy of integers) and IDX data (an IDX file) (--labels).</summary>
    public string? LabelsPath { get; init; }

    /// <summary>The samples array in an .npz (--x-key); by default the first of x, images, data that exists.</summary>
    public string? XKey { get; init; }

    /// <summary>The labels array in an .npz (--y-key); by default the first of y, labels, targets that exists.</summary>
    public string? YKey { get; init; }

    public Preprocessing Preprocessing { get; init; } = Preprocessing.None;

    /// <summary>
    /// A text file with one class name a line, in class-index order (--class-map). For image folders
    /// it fixes the folder → index mapping (default: sorted folder names); for other formats it names the classes.
    /// </summary>
    public string? ClassMapPath { get; init; }

    /// <summary>The CSV column that holds the labels (--label-column); default "label".</summary>
    public string? LabelColumn { get; init; }

    /// <summary>Image folders: leave out files that are not decodable images (checked at open) and count them.</summary>
    public bool SkipBad { get; init; }
}
