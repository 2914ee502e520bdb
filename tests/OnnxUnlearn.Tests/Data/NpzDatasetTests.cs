using OnnxUnlearn.Data;
using OnnxUnlearn.Data.Arrays;
using OnnxUnlearn.Data.Npy;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class NpzDatasetTests : DataTestBase
{
    private string WriteNpz(byte[] x, byte[] y, bool compressed = false, string xName = "x", string yName = "y")
    {
        var path = Path.Combine(Files.Root, "data.npz");
        DataFiles.WriteNpz(path, compressed, (xName, x), (yName, y));
        return path;
    }

    private static byte[] Labels(params long[] labels) => DataFiles.Npy(labels, [labels.Length]);

    [TestCase(false)]
    [TestCase(true)]
    public void Float32NchwIsReadAsStored(bool compressed)
    {
        var path = WriteNpz(DataFiles.Npy(Range(24), [2, 3, 2, 2]), Labels(4, 7), compressed);

        using var data = Open(path, Nchw(3, 2, 2));

        Assert.That(data.Count, Is.EqualTo(2));
        Assert.That(data.Labels, Is.EqualTo(new[] { 4, 7 }));
        Assert.That(data.ClassNames, Is.Null);
        Assert.That(data.SkippedCount, Is.Zero);
        Assert.That(data.Source, Is.EqualTo(path));
        Assert.That(ReadAll(data), Is.EqualTo(Range(24)));
        Assert.That(Read(data, [1, 0, 1]), Is.EqualTo(Range(12, 12).Concat(Range(12)).Concat(Range(12, 12))));
    }

    [Test]
    public void HwcSamplesAreTransposedForAnNchwModel()
    {
        // One sample, H=1, W=2, C=3: pixels (0,1,2) and (3,4,5).
        var path = WriteNpz(DataFiles.Npy(Range(6), [1, 1, 2, 3]), Labels(0));

        using var data = Open(path, Nchw(3, 1, 2));

        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 0, 3, 1, 4, 2, 5 }));
    }

    [Test]
    public void ChwSamplesAreTransposedForAnNhwcModel()
    {
        // One sample, C=3, H=1, W=2: planes (0,1), (2,3), (4,5).
        var path = WriteNpz(DataFiles.Npy(Range(6), [1, 3, 1, 2]), Labels(0));

        using var data = Open(path, Nhwc(1, 2, 3));

        Assert.That(ReadAll(data), Is.EqualTo(new float[] { 0, 2, 4, 1, 3, 5 }));
    }

    [Test]
    public void HeightWidthSamplesFeedOneChannelModelsOfEitherLayout()
    {
        var path = WriteNpz(DataFiles.Npy(Range(8), [2, 2, 2]), Labels(0, 1));

        using var nchw = Open(path, Nchw(1, 2, 2));
        using var nhwc = Open(path, Nhwc(2, 2, 1));

        Assert.That(ReadAll(nchw), Is.EqualTo(Range(8)));
        Assert.That(ReadAll(nhwc), Is.EqualTo(Range(8)));
    }

    [Test]
    public void FlatSamplesAreReshapedToAnImageAndImagesFlattenedForAFlatModel()
    {
        var flat = WriteNpz(DataFiles.Npy(Range(12), [1, 12]), Labels(0));
        using (var data = Open(flat, Nhwc(2, 2, 3)))
            Assert.That(ReadAll(data), Is.EqualTo(Range(12)));

        var image = WriteNpz(DataFiles.Npy(Range(12), [1, 3, 2, 2]), Labels(0));
        using (var data = Open(image, Flat(12)))
            Assert.That(ReadAll(data), Is.EqualTo(Range(12)));
    }

    [Test]
    public void EverySampleDtypeDecodesToTheSameFloats()
    {
        float[] expected = [0, 0.5f, 3.25f, 255];
        var bigEndian = expected.SelectMany(v => BitConverter.GetBytes(v).Reverse()).ToArray();
        var arrays = new[]
        {
            DataFiles.Npy(expected, [1, 4]),
            DataFiles.Npy(expected.Select(v => (double)v).ToArray(), [1, 4]),
            DataFiles.Npy(expected.Select(v => (Half)v).ToArray(), [1, 4]),
            DataFiles.Npy(">f4", bigEndian, [1, 4]),
        };
        foreach (var x in arrays)
        {
            using var data = Open(WriteNpz(x, Labels(1)), Flat(4));
            Assert.That(ReadAll(data), Is.EqualTo(expected));
        }

        using var bytes = Open(WriteNpz(DataFiles.Npy(new byte[] { 0, 1, 128, 255 }, [1, 4]), Labels(1)), Flat(4));
        Assert.That(ReadAll(bytes), Is.EqualTo(new float[] { 0, 1, 128, 255 }));
    }

    [Test]
    public void EveryIntegerLabelDtypeGivesTheSameLabels()
    {
        var x = DataFiles.Npy(Range(3), [3, 1]);
        var labelArrays = new[]
        {
            DataFiles.Npy(new long[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new short[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new ushort[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new byte[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new sbyte[] { 0, 9, 3 }, [3]),
            DataFiles.Npy(new long[] { 0, 9, 3 }, [3, 1]),
        };
        foreach (var y in labelArrays)
        {
            using var data = Open(WriteNpz(x, y), Flat(1));
            Assert.That(data.Labels, Is.EqualTo(new[] { 0, 9, 3 }));
        }
    }

    [Test]
    public void PreprocessingIsAppliedPerChannelInTheTargetLayout()
    {
        var preprocessing = new Preprocessing(0.5f, [1, 2, 3], [1, 1, 2]);
        // One HWC sample of 2 pixels: (2,4,6), (8,10,12).
        var path = WriteNpz(DataFiles.Npy(new float[] { 2, 4, 6, 8, 10, 12 }, [1, 1, 2, 3]), Labels(0));

        using var nhwc = Open(path, Nhwc(1, 2, 3), preprocessing);
        using var nchw = Open(path, Nchw(3, 1, 2), preprocessing);

        // (x * 0.5 - mean) / std: R (1-1, 4-1), G (2-2, 5-2), B ((3-3)/2, (6-3)/2).
        Assert.That(ReadAll(nhwc), Is.EqualTo(new float[] { 0, 0, 0, 3, 3, 1.5f }));
        Assert.That(ReadAll(nchw), Is.EqualTo(new float[] { 0, 3, 0, 3, 0, 1.5f }));
    }

    [Test]
    public void DefaultArrayNamesAndExplicitKeysAreFound()
    {
        var x = DataFiles.Npy(Range(2), [2, 1]);
        var y = Labels(1, 0);
        foreach (var (xName, yName) in new[] { ("images", "labels"), ("data", "targets") })
        {
            using var data = Open(WriteNpz(x, y, xName: xName, yName: yName), Flat(1));
            Assert.That(data.Labels, Is.EqualTo(new[] { 1, 0 }));
        }

        var path = WriteNpz(x, y, xName: "x_train", yName: "y_train");
        using var named = DatasetLoader.Open(new DataOptions { Path = path, XKey = "x_train", YKey = "y_train" }, Flat(1));
        Assert.That(ReadAll(named), Is.EqualTo(Range(2)));
    }

    [Test]
    public void LargeArraysAreDecompressedToAMappedTempFile()
    {
        var path = WriteNpz(DataFiles.Npy(Range(6), [3, 2]), Labels(0, 1, 2), compressed: true);

        var (samples, labels) = NpzArchive.Read(path, null, null, inMemoryLimit: 0);
        using (samples)
        {
            Assert.That(samples.Data, Is.TypeOf<MappedByteStore>());
            Assert.That(samples.Shape, Is.EqualTo(new[] { 3, 2 }));
            Assert.That(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(samples.SampleBytes(2)).ToArray(), Is.EqualTo(new float[] { 4, 5 }));
            Assert.That(labels, Is.EqualTo(new[] { 0, 1, 2 }));
        }
    }

    [Test]
    public void ShapeThatFitsNoRuleNamesBothShapes()
    {
        var path = WriteNpz(DataFiles.Npy(Range(96), [2, 3, 4, 4]), Labels(0, 1));

        Assert.That(() => Open(path, Nchw(1, 4, 4)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{path}: x has samples of shape [3,4,4], the model input 'input' wants [1,4,4] (NCHW)"));
    }

    [Test]
    public void FortranOrderIsRejected()
    {
        var path = WriteNpz(DataFiles.Npy(Range(4), [2, 2], fortranOrder: true), Labels(0, 1));

        Assert.That(() => Open(path, Flat(2)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{path}: x is Fortran-ordered; save it with np.ascontiguousarray"));
    }

    [Test]
    public void UnsupportedDtypesAreNamed()
    {
        var complex = WriteNpz(DataFiles.Npy("<c8", new byte[16], [2, 1]), Labels(0, 1));
        Assert.That(() => Open(complex, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.Contains("dtype '<c8', which is not supported"));

        var integers = WriteNpz(DataFiles.Npy(new long[] { 1, 2 }, [2, 1]), Labels(0, 1));
        Assert.That(() => Open(integers, Flat(1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{integers}: x has dtype '<i8', which is not supported for samples; save it as float32, float16, float64 or uint8"));

        var floatLabels = WriteNpz(DataFiles.Npy(Range(2), [2, 1]), DataFiles.Npy(new float[] { 0, 1 }, [2]));
        Assert.That(() => Open(floatLabels, Flat(1)), Throws.TypeOf<UserInputException>().With.Message
            .StartsWith($"{floatLabels}: y has dtype '<f4'; labels must be integer class indices"));

        var oneHot = WriteNpz(DataFiles.Npy(Range(2), [2, 1]), DataFiles.Npy(new long[] { 1, 0, 0, 1 }, [2, 2]));
        Assert.That(() => Open(oneHot, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.Contains("one-hot"));
    }

    [Test]
    public void MismatchedCountsAreRejected()
    {
        var path = WriteNpz(DataFiles.Npy(Range(3), [3, 1]), Labels(0, 1));

        Assert.That(() => Open(path, Flat(1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{path}: x has 3 samples but there are 2 labels; they must match one to one"));
    }

    [Test]
    public void MissingArraysListTheArraysPresent()
    {
        var path = WriteNpz(DataFiles.Npy(Range(2), [2, 1]), Labels(0, 1), xName: "x_train", yName: "y_train");

        Assert.That(() => Open(path, Flat(1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{path}: none of the arrays y, labels, targets is present (arrays present: x_train, y_train); pick one with --y-key"));
        Assert.That(() => DatasetLoader.Open(new DataOptions { Path = path, XKey = "pixels", YKey = "y_train" }, Flat(1)),
            Throws.TypeOf<UserInputException>().With.Message
                .EqualTo($"{path}: no array 'pixels' (arrays present: x_train, y_train); pick one with --x-key"));
    }

    [Test]
    public void NoSamplesAndScalarArraysAreRejected()
    {
        var empty = WriteNpz(DataFiles.Npy(Array.Empty<float>(), [0, 1]), DataFiles.Npy(Array.Empty<long>(), [0]));
        Assert.That(() => Open(empty, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.EqualTo($"{empty}: x has no samples"));

        var vector = WriteNpz(DataFiles.Npy(Range(2), [2]), Labels(0, 1));
        Assert.That(() => Open(vector, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.Contains("has shape [2]; samples need a leading sample dimension"));
    }

    [Test]
    public void DamagedArchivesAreRejected()
    {
        var notZip = Files.WriteText("data.npz", "this is not a zip file");
        Assert.That(() => Open(notZip, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{notZip}: not a valid .npz (zip) archive"));

        var truncated = WriteNpz(DataFiles.Npy(Range(2), [2, 1])[..^4], Labels(0, 1));
        Assert.That(() => Open(truncated, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{truncated} (array 'x'): the data is truncated"));
    }

    [Test]
    public void NpyFilesTakeTheirLabelsFromANpyFile()
    {
        var x = Files.Write("x.npy", DataFiles.Npy(Range(8), [2, 2, 2], major: 2));
        var y = Files.Write("y.npy", DataFiles.Npy(new[] { 5, 6 }, [2], major: 3));

        using var data = Open(x, Nchw(1, 2, 2), labels: y);

        Assert.That(data.Labels, Is.EqualTo(new[] { 5, 6 }));
        Assert.That(ReadAll(data), Is.EqualTo(Range(8)));
        Assert.That(() => Open(x, Nchw(1, 2, 2)), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{x}: this format holds no labels; give --labels"));
    }

    [Test]
    public void TruncatedNpyFilesAreRejected()
    {
        var x = Files.Write("x.npy", DataFiles.Npy(Range(8), [2, 4])[..^1]);
        var y = Files.Write("y.npy", DataFiles.Npy(new[] { 5, 6 }, [2]));

        Assert.That(() => Open(x, Flat(4), labels: y), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{x}: the data is truncated: shape [2,4] of '<f4' needs 32 bytes, the file has 31"));
    }
}
