using OnnxUnlearn.Data;
using SkiaSharp;

namespace OnnxUnlearn.Tests.Data;

/// <summary>The same pixels stored in every format give identical tensors.</summary>
[TestFixture]
public class CrossFormatTests : DataTestBase
{
    // Three 3x3 gray samples with labels 1, 0, 1.
    private static readonly byte[][] Samples =
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8],
        [255, 128, 64, 32, 16, 8, 4, 2, 1],
        [9, 99, 199, 29, 129, 229, 59, 159, 249],
    ];

    private static readonly int[] SampleLabels = [1, 0, 1];

    [TestCase(InputLayout.Nchw)]
    [TestCase(InputLayout.Nhwc)]
    public void GrayPixelsGiveIdenticalTensorsInEveryFormat(InputLayout layout)
    {
        var target = layout == InputLayout.Nchw ? Nchw(1, 3, 3) : Nhwc(3, 3, 1);
        var mnist = Preprocessing.FromPreset("mnist");
        var pixels = Samples.SelectMany(s => s).ToArray();

        var npz = Path.Combine(Files.Root, "data.npz");
        DataFiles.WriteNpz(npz, true, ("x", DataFiles.Npy(pixels, [3, 1, 3, 3])), ("y", DataFiles.Npy(SampleLabels.Select(l => (long)l).ToArray(), [3])));
        var images = Files.Write("images-idx3-ubyte.gz", DataFiles.Gzip(DataFiles.Idx(0x08, [3, 3, 3], pixels)));
        var labels = Files.Write("labels-idx1-ubyte", DataFiles.Idx(0x08, [3], SampleLabels.Select(l => (byte)l).ToArray()));
        var csv = Files.WriteText("data.csv", "label," + string.Join(",", Enumerable.Range(0, 9).Select(i => $"p{i}")) + "\n"
            + string.Concat(Samples.Select((s, i) => $"{SampleLabels[i]},{string.Join(",", s)}\n")));
        for (var i = 0; i < Samples.Length; i++)
            Files.Write($"folder/{SampleLabels[i]}/s{i}.png", DataFiles.EncodeGrayPng(Samples[i], 3, 3));

        using var fromNpz = Open(npz, target, mnist);
        using var fromIdx = Open(images, target, mnist, labels);
        using var fromCsv = Open(csv, target, mnist);
        using var fromFolder = Open(Path.Combine(Files.Root, "folder"), target, mnist);

        var expected = ReadAll(fromNpz);
        Assert.That(expected[1], Is.EqualTo(1 / 255f / 0.3081f - 0.1307f / 0.3081f).Within(1e-6f));
        Assert.That(ReadAll(fromIdx), Is.EqualTo(expected));
        Assert.That(ReadAll(fromCsv), Is.EqualTo(expected));
        // The folder lists class 0 (sample 1) before class 1 (samples 0 and 2).
        Assert.That(fromFolder.Labels, Is.EqualTo(new[] { 0, 1, 1 }));
        Assert.That(Read(fromFolder, [1, 0, 2]), Is.EqualTo(expected));
    }

    [Test]
    public void RgbPixelsGiveIdenticalTensorsFromHwcArraysAndPngs()
    {
        var rgb = Enumerable.Range(0, 2 * 2 * 3).Select(i => (byte)(i * 20)).ToArray();
        var npz = Path.Combine(Files.Root, "data.npz");
        DataFiles.WriteNpz(npz, false, ("x", DataFiles.Npy(rgb, [1, 2, 2, 3])), ("y", DataFiles.Npy(new long[] { 0 }, [1])));
        Files.Write("folder/a/x.png", DataFiles.EncodeRgb(rgb, 2, 2, SKEncodedImageFormat.Png));
        var imagenet = Preprocessing.FromPreset("imagenet");

        using var fromNpz = Open(npz, Nchw(3, 2, 2), imagenet);
        using var fromFolder = Open(Path.Combine(Files.Root, "folder"), Nchw(3, 2, 2), imagenet);

        var expected = ReadAll(fromNpz);
        Assert.That(expected[0], Is.EqualTo(-0.485f / 0.229f).Within(1e-6f));
        Assert.That(expected[1], Is.EqualTo((60 / 255f - 0.485f) / 0.229f).Within(1e-5f));
        Assert.That(ReadAll(fromFolder), Is.EqualTo(expected));
    }
}
