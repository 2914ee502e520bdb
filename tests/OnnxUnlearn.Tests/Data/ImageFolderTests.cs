using OnnxUnlearn.Data;
using SkiaSharp;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class ImageFolderTests : DataTestBase
{
    private static byte[] Rgb(int pixels, byte r, byte g, byte b) => Enumerable.Repeat(new[] { r, g, b }, pixels).SelectMany(p => p).ToArray();

    private static ILabeledDataset OpenFolder(string root, InputSpec target, string? classMap = null, bool skipBad = false, Preprocessing? preprocessing = null) =>
        DatasetLoader.Open(new DataOptions { Path = root, ClassMapPath = classMap, SkipBad = skipBad, Preprocessing = preprocessing ?? Preprocessing.None }, target);

    [Test]
    public void ClassesAreSortedFolderNamesAndImagesOfTheTargetSizeAreExact()
    {
        Files.Write("imgs/dog/b.png", DataFiles.EncodeGrayPng([1, 2, 3, 4], 2, 2));
        Files.Write("imgs/dog/a.png", DataFiles.EncodeGrayPng([5, 6, 7, 8], 2, 2));
        Files.Write("imgs/cat/sub/c.PNG", DataFiles.EncodeGrayPng([9, 10, 11, 12], 2, 2));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 2, 2));

        Assert.That(data.ClassNames, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(data.Labels, Is.EqualTo(new[] { 0, 1, 1 }));
        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 9, 10, 11, 12, 5, 6, 7, 8, 1, 2, 3, 4 }));
    }

    [Test]
    public void RgbImagesFillEitherLayout()
    {
        byte[] rgb = [1, 2, 3, 4, 5, 6];
        Files.Write("imgs/a/x.png", DataFiles.EncodeRgb(rgb, 2, 1, SKEncodedImageFormat.Png));
        var root = Path.Combine(Files.Root, "imgs");

        using var nhwc = OpenFolder(root, Nhwc(1, 2, 3));
        using var nchw = OpenFolder(root, Nchw(3, 1, 2));

        Assert.That(ReadAll(nhwc), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(ReadAll(nchw), Is.EqualTo(new float[] { 1, 4, 2, 5, 3, 6 }));
    }

    [Test]
    public void ColorBecomesGrayAsPilComputesItAndGrayBecomesRgb()
    {
        Files.Write("imgs/a/rgb.png", DataFiles.EncodeRgb([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30], 4, 1, SKEncodedImageFormat.Png));
        Files.Write("imgs/b/gray.png", DataFiles.EncodeGrayPng([7, 77, 177, 255], 4, 1));
        var root = Path.Combine(Files.Root, "imgs");

        using var gray = OpenFolder(root, Nchw(1, 1, 4));
        using var rgb = OpenFolder(root, Nhwc(1, 4, 3));

        // PIL's convert('L'): red 76, green 150, blue 29, (10,200,30) -> 124 (123.81 rounded).
        Assert.That(Read(gray, [0]), Is.EqualTo(new float[] { 76, 150, 29, 124 }));
        Assert.That(Read(gray, [1]), Is.EqualTo(new float[] { 7, 77, 177, 255 }));
        Assert.That(Read(rgb, [1]), Is.EqualTo(new float[] { 7, 7, 7, 77, 77, 77, 177, 177, 177, 255, 255, 255 }));
    }

    [Test]
    public void JpegBmpAndWebpDecode()
    {
        Files.Write("imgs/a/x.jpg", DataFiles.EncodeRgb(Rgb(64, 200, 100, 50), 8, 8, SKEncodedImageFormat.Jpeg));
        Files.Write("imgs/a/y.bmp", DataFiles.Bmp([200, 100, 50, 1, 2, 3, 4, 5, 6, 7, 8, 9], 2, 2));
        Files.Write("imgs/a/z.webp", DataFiles.EncodeRgb(Rgb(64, 200, 100, 50), 8, 8, SKEncodedImageFormat.Webp));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nhwc(2, 2, 3));

        Assert.That(Read(data, [0]), Is.EqualTo(Rgb(4, 200, 100, 50).Select(v => (float)v)).Within(3f));
        Assert.That(Read(data, [1]), Is.EqualTo(new float[] { 200, 100, 50, 1, 2, 3, 4, 5, 6, 7, 8, 9 }));
        Assert.That(Read(data, [2]), Is.EqualTo(Rgb(4, 200, 100, 50).Select(v => (float)v)).Within(3f));
    }

    [Test]
    public void WideImagesAreCenterCroppedWithoutResamplingWhenTheHeightFits()
    {
        // 8 wide, 2 high; the shorter side already is the target size, so columns 3 and 4 are kept.
        var gray = Enumerable.Range(0, 16).Select(i => (byte)(i % 8 * 10 + i / 8)).ToArray();
        Files.Write("imgs/a/x.png", DataFiles.EncodeGrayPng(gray, 8, 2));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 2, 2));

        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 30, 40, 31, 41 }));
    }

    [Test]
    public void LargerImagesAreShrunkThenCropped()
    {
        // 8x4 of 2x2 blocks, values by block column 0, 80, 160, 240 (top) and +10 (bottom):
        // halved to 4x2, then the middle 2x2 is kept.
        var gray = new byte[32];
        for (var y = 0; y < 4; y++)
        {
            for (var x = 0; x < 8; x++)
                gray[y * 8 + x] = (byte)(x / 2 * 80 + y / 2 * 10);
        }
        Files.Write("imgs/a/x.png", DataFiles.EncodeGrayPng(gray, 8, 4));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 2, 2));

        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 80, 160, 90, 170 }).Within(1f));
    }

    [Test]
    public void ModestShrinkingIsPlainBilinear()
    {
        // 6x6, left half 0 and right half 200, to 4x4: the sample points fall at x = 0.25, 1.75,
        // 3.25, 4.75 in source pixels, so no output pixel straddles the edge (mipmaps would blur it).
        var gray = Enumerable.Range(0, 36).Select(i => (byte)(i % 6 < 3 ? 0 : 200)).ToArray();
        Files.Write("imgs/a/x.png", DataFiles.EncodeGrayPng(gray, 6, 6));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 4, 4));

        Assert.That(ReadAll(data), Is.EqualTo(Enumerable.Repeat(new float[] { 0, 0, 200, 200 }, 4).SelectMany(r => r)));
    }

    [Test]
    public void AClassMapFixesTheClassOrder()
    {
        Files.Write("imgs/ant/x.png", DataFiles.EncodeGrayPng([1], 1, 1));
        Files.Write("imgs/bee/x.png", DataFiles.EncodeGrayPng([2], 1, 1));
        var map = Files.WriteText("classes.txt", "bee\n\nant\n");

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 1, 1), map);

        Assert.That(data.ClassNames, Is.EqualTo(new[] { "bee", "ant" }));
        Assert.That(data.Labels, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 2, 1 }));
    }

    [Test]
    public void AClassMapMustMatchTheFolders()
    {
        Files.Write("imgs/ant/x.png", DataFiles.EncodeGrayPng([1], 1, 1));
        Files.Write("imgs/bee/x.png", DataFiles.EncodeGrayPng([2], 1, 1));
        var root = Path.Combine(Files.Root, "imgs");
        var partial = Files.WriteText("partial.txt", "ant\n");
        var extra = Files.WriteText("extra.txt", "ant\nbee\nwasp\n");
        var twice = Files.WriteText("twice.txt", "ant\nbee\nant\n");

        Assert.That(() => OpenFolder(root, Nchw(1, 1, 1), partial), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{partial}: the class folders bee in {root} are not in the class map; add them or remove the folders"));
        Assert.That(() => OpenFolder(root, Nchw(1, 1, 1), extra), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{extra}: the classes wasp have no folder in {root}"));
        Assert.That(() => OpenFolder(root, Nchw(1, 1, 1), twice), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{twice}: the class map names 'ant' more than once"));
    }

    [Test]
    public void EmptyClassFoldersAndFoldersWithoutClassesAreRejected()
    {
        Files.Write("imgs/ant/x.png", DataFiles.EncodeGrayPng([1], 1, 1));
        Files.WriteText("imgs/bee/notes.txt", "not an image");
        var root = Path.Combine(Files.Root, "imgs");
        var flat = Files.Folder("flat");
        Files.Write("flat/x.png", DataFiles.EncodeGrayPng([1], 1, 1));

        Assert.That(() => OpenFolder(root, Nchw(1, 1, 1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{Path.Combine(root, "bee")}: the class folder has no images (.png, .jpg, .jpeg, .bmp, .webp)"));
        Assert.That(() => OpenFolder(flat, Nchw(1, 1, 1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{flat}: no class sub-folders; an image folder needs one sub-folder of images per class"));
    }

    [Test]
    public void HiddenEntriesAndOtherFilesAreIgnored()
    {
        Files.Write("imgs/ant/x.png", DataFiles.EncodeGrayPng([1], 1, 1));
        Files.Write("imgs/ant/._x.png", [0, 1, 2]);
        Files.Write("imgs/ant/.cache/y.png", [0, 1, 2]);
        Files.WriteText("imgs/ant/labels.csv", "a,b");
        Files.Write("imgs/.ipynb_checkpoints/z.png", [0, 1, 2]);

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 1, 1));

        Assert.That(data.ClassNames, Is.EqualTo(new[] { "ant" }));
        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 1 }));
    }

    [Test]
    public void ACorruptImageFailsTheReadNamingTheFile()
    {
        Files.Write("imgs/ant/a.png", DataFiles.EncodeGrayPng([1], 1, 1));
        var corrupt = Files.WriteText("imgs/ant/b.png", "not really a png");

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(1, 1, 1));

        Assert.That(data.Count, Is.EqualTo(2));
        Assert.That(Read(data, [0]), Is.EqualTo(new float[] { 1 }));
        Assert.That(() => ReadAll(data), Throws.TypeOf<UserInputException>().With.Message
            .StartsWith($"{corrupt}: not a decodable image (").And.Message.EndsWith("pass --skip-bad to leave out such files"));
    }

    [Test]
    public void ATruncatedImageFailsTheReadNamingTheFile()
    {
        var noise = new byte[16 * 16 * 3];
        new Random(1).NextBytes(noise);
        var png = DataFiles.EncodeRgb(noise, 16, 16, SKEncodedImageFormat.Png);
        var truncated = Files.Write("imgs/ant/a.png", png[..(png.Length * 3 / 4)]);

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(3, 16, 16), skipBad: true);

        Assert.That(data.SkippedCount, Is.Zero, "the header is intact, so the open-time check keeps it");
        Assert.That(() => ReadAll(data), Throws.TypeOf<UserInputException>().With.Message
            .StartsWith($"{truncated}: the image data is damaged ("));
    }

    [Test]
    public void SkipBadLeavesOutUnreadableImagesAndCountsThem()
    {
        Files.Write("imgs/ant/a.png", DataFiles.EncodeGrayPng([1], 1, 1));
        Files.WriteText("imgs/ant/b.png", "not really a png");
        Files.Write("imgs/ant/c.jpg", []);
        Files.Write("imgs/bee/d.png", DataFiles.EncodeGrayPng([2], 1, 1));
        Files.WriteText("imgs/wasp/e.png", "broken");
        var root = Path.Combine(Files.Root, "imgs");

        Assert.That(() => OpenFolder(root, Nchw(1, 1, 1), skipBad: true), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{Path.Combine(root, "wasp")}: the class folder has no readable images (.png, .jpg, .jpeg, .bmp, .webp)"));

        Directory.Delete(Path.Combine(root, "wasp"), recursive: true);
        using var data = OpenFolder(root, Nchw(1, 1, 1), skipBad: true);

        Assert.That(data.SkippedCount, Is.EqualTo(2));
        Assert.That(data.Labels, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 1, 2 }));
    }

    [Test]
    public void TheModelInputMustBeAnImageOfOneOrThreeChannels()
    {
        Files.Write("imgs/ant/a.png", DataFiles.EncodeGrayPng([1], 1, 1));
        var root = Path.Combine(Files.Root, "imgs");

        Assert.That(() => OpenFolder(root, Flat(4)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{root}: images need a model input with an image layout, but 'input' takes flat vectors 4; convert the images to .npz instead"));
        Assert.That(() => OpenFolder(root, Nchw(4, 1, 1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{root}: images give 1 (gray) or 3 (RGB) channels, but the model input 'input' wants 4"));
    }

    [Test]
    public void ParallelReadsInAnyOrderMatchSingleReads()
    {
        for (var i = 0; i < 12; i++)
            Files.Write($"imgs/c{i % 3}/{i:D2}.png", DataFiles.EncodeRgb(Rgb(25, (byte)i, (byte)(2 * i), (byte)(3 * i)), 5, 5, SKEncodedImageFormat.Png));

        using var data = OpenFolder(Path.Combine(Files.Root, "imgs"), Nchw(3, 3, 3), preprocessing: Preprocessing.FromPreset("imagenet"));
        int[] order = [11, 0, 5, 5, 3, 7, 1, 9, 2, 10, 4, 6, 8, 0];

        var batch = Read(data, order);

        var one = order.SelectMany(i => Read(data, [i])).ToArray();
        Assert.That(batch, Is.EqualTo(one));
        Assert.That(batch.Distinct().Count(), Is.GreaterThan(12));
    }
}
