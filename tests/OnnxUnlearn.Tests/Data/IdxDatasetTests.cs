using System.Buffers.Binary;
using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class IdxDatasetTests : DataTestBase
{
    private static readonly byte[] Pixels = [0, 10, 20, 30, 40, 50, 60, 70];

    private (string Images, string Labels) WriteMnistLike(bool gzip)
    {
        var images = DataFiles.Idx(0x08, [2, 2, 2], Pixels);
        var labels = DataFiles.Idx(0x08, [2], [3, 9]);
        var suffix = gzip ? ".gz" : "";
        return (Files.Write("t10k-images-idx3-ubyte" + suffix, gzip ? DataFiles.Gzip(images) : images),
            Files.Write("t10k-labels.idx1-ubyte" + suffix, gzip ? DataFiles.Gzip(labels) : labels));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadsPlainAndGzippedMnistFiles(bool gzip)
    {
        var (images, labels) = WriteMnistLike(gzip);

        using var data = Open(images, Nchw(1, 2, 2), labels: labels);

        Assert.That(data.Labels, Is.EqualTo(new[] { 3, 9 }));
        Assert.That(ReadAll(data), Is.EqualTo(Pixels.Select(p => (float)p)));
    }

    [Test]
    public void FeedsAFlatModelWithFlattenedImages()
    {
        var (images, labels) = WriteMnistLike(gzip: false);

        using var data = Open(images, Flat(4), Preprocessing.FromPreset("mnist"), labels);

        var expected = Pixels.Select(p => p * (1f / 255f / 0.3081f) + -0.1307f / 0.3081f);
        Assert.That(ReadAll(data), Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void ReadsBigEndianFloatsAndIntegerLabels()
    {
        var floats = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(floats, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(floats.AsSpan(4), -2f);
        var labels = new byte[4];
        BinaryPrimitives.WriteInt16BigEndian(labels, 300);
        BinaryPrimitives.WriteInt16BigEndian(labels.AsSpan(2), 7);
        var x = Files.Write("x.idx2", DataFiles.Idx(0x0D, [2, 1], floats));
        var y = Files.Write("y.idx1", DataFiles.Idx(0x0B, [2], labels));

        using var data = Open(x, Flat(1), labels: y);

        Assert.That(ReadAll(data), Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(data.Labels, Is.EqualTo(new[] { 300, 7 }));
    }

    [Test]
    public void RequiresALabelsFile()
    {
        var (images, _) = WriteMnistLike(gzip: false);

        Assert.That(() => Open(images, Nchw(1, 2, 2)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{images}: this format holds no labels; give --labels with the IDX labels file, e.g. train-labels-idx1-ubyte.gz"));
    }

    [Test]
    public void RejectsBadMagicTypeAndSize()
    {
        var (_, labels) = WriteMnistLike(gzip: false);
        var badMagic = Files.Write("a-idx3-ubyte", [1, 2, 8, 1, 0, 0, 0, 1, 5]);
        var badType = Files.Write("b-idx3-ubyte", DataFiles.Idx(0x07, [2, 1], [1, 2]));
        var tooShort = Files.Write("c-idx3-ubyte", DataFiles.Idx(0x08, [2, 2, 2], Pixels[..7]));
        var tooLong = Files.Write("d-idx3-ubyte.gz", DataFiles.Gzip(DataFiles.Idx(0x08, [2, 2, 2], [.. Pixels, 1])));

        Assert.That(() => Open(badMagic, Flat(1), labels: labels), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{badMagic}: not an IDX file"));
        Assert.That(() => Open(badType, Flat(1), labels: labels), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{badType}: unknown IDX type code 0x07"));
        Assert.That(() => Open(tooShort, Flat(4), labels: labels), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{tooShort}: the header's dims [2,2,2] of UInt8 need 24 bytes, the file has 23; it is damaged or not an IDX file"));
        Assert.That(() => Open(tooLong, Flat(4), labels: labels), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{tooLong}: there is more data than the header's dims [2,2,2]"));
    }

    [Test]
    public void RejectsMismatchedCounts()
    {
        var (images, _) = WriteMnistLike(gzip: false);
        var labels = Files.Write("l-idx1-ubyte", DataFiles.Idx(0x08, [3], [1, 2, 3]));

        Assert.That(() => Open(images, Nchw(1, 2, 2), labels: labels), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{images}: the array has 2 samples but there are 3 labels; they must match one to one"));
    }
}
