using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

/// <summary>A temp folder per test, and helpers to open and read data sets.</summary>
public abstract class DataTestBase
{
    internal TempFolder Files { get; private set; } = null!;

    [SetUp]
    public void CreateFolder() => Files = new TempFolder();

    [TearDown]
    public void DeleteFolder() => Files.Dispose();

    protected static InputSpec Nchw(int c, int h, int w) => new("input", InputLayout.Nchw, [c, h, w]);

    protected static InputSpec Nhwc(int h, int w, int c) => new("input", InputLayout.Nhwc, [h, w, c]);

    protected static InputSpec Flat(int features) => new("input", InputLayout.Flat, [features]);

    protected static ILabeledDataset Open(string path, InputSpec target, Preprocessing? preprocessing = null, string? labels = null) =>
        DatasetLoader.Open(new DataOptions { Path = path, LabelsPath = labels, Preprocessing = preprocessing ?? Preprocessing.None }, target);

    /// <summary>Every sample, in index order.</summary>
    protected static float[] ReadAll(ILabeledDataset data) => Read(data, Enumerable.Range(0, data.Count).ToArray());

    protected static float[] Read(ILabeledDataset data, int[] indices)
    {
        var result = new float[indices.Length * data.Target.SampleSize];
        data.ReadSamples(indices, result);
        return result;
    }

    protected static float[] Range(int count, float start = 0) => Enumerable.Range(0, count).Select(i => start + i).ToArray();
}
