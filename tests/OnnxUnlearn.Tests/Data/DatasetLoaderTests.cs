using OnnxUnlearn.Data;

namespace OnnxUnlearn.Tests.Data;

[TestFixture]
public class DatasetLoaderTests : DataTestBase
{
    private string WriteNpz(long[] labels)
    {
        var path = Path.Combine(Files.Root, "data.npz");
        DataFiles.WriteNpz(path, false, ("x", DataFiles.Npy(Range(labels.Length), [labels.Length, 1])), ("y", DataFiles.Npy(labels, [labels.Length])));
        return path;
    }

    [Test]
    public void MissingEmptyAndUnknownFilesAreNamed()
    {
        var missing = Path.Combine(Files.Root, "nope.npz");
        var empty = Files.Write("empty.npz", []);
        var unknown = Files.WriteText("data.parquet", "x");
        var x = Files.Write("x.npy", DataFiles.Npy(Range(2), [2, 1]));

        Assert.That(() => Open(missing, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.EqualTo($"{missing}: data file not found"));
        Assert.That(() => Open(empty, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.EqualTo($"{empty}: the data file is empty"));
        Assert.That(() => Open(unknown, Flat(1)), Throws.TypeOf<UserInputException>().With.Message.StartsWith($"{unknown}: unknown data format; use .npz"));
        Assert.That(() => Open(x, Flat(1), labels: missing), Throws.TypeOf<UserInputException>().With.Message.EqualTo($"{missing}: labels file not found"));
    }

    [Test]
    public void CheckLabelsNamesTheFirstLabelOutOfRange()
    {
        using var data = Open(WriteNpz([0, 9, 12, -1]), Flat(1));

        Assert.That(() => DatasetLoader.CheckLabels(data, 13), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{data.Source}: label -1 at index 3 is outside the model's 13 classes"));
        Assert.That(() => DatasetLoader.CheckLabels(data, 10), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{data.Source}: label 12 at index 2 is outside the model's 10 classes"));
    }

    [Test]
    public void CheckLabelsAcceptsLabelsInRange()
    {
        using var data = Open(WriteNpz([0, 9, 3]), Flat(1));

        Assert.That(() => DatasetLoader.CheckLabels(data, 10), Throws.Nothing);
    }

    [Test]
    public void AClassMapNamesTheClassesOfArrayData()
    {
        var map = Files.WriteText("classes.txt", "zero\none\n");
        var options = new DataOptions { Path = WriteNpz([1, 0]), ClassMapPath = map };
        using (var data = DatasetLoader.Open(options, Flat(1)))
            Assert.That(data.ClassNames, Is.EqualTo(new[] { "zero", "one" }));

        var tooFew = new DataOptions { Path = WriteNpz([1, 2]), ClassMapPath = map };
        Assert.That(() => DatasetLoader.Open(tooFew, Flat(1)), Throws.TypeOf<UserInputException>().With.Message
            .EqualTo($"{tooFew.Path}: label 2 at index 1 has no name in the class map {map} (2 names)"));
    }

    [Test]
    public void ReadSamplesChecksItsArguments()
    {
        using var data = Open(WriteNpz([0, 1]), Flat(1));

        Assert.That(() => data.ReadSamples([0, 1], new float[1]), Throws.ArgumentException);
        Assert.That(() => data.ReadSamples([2], new float[1]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ReadsAreThreadSafe()
    {
        var path = Path.Combine(Files.Root, "big.npz");
        DataFiles.WriteNpz(path, true, ("x", DataFiles.Npy(Range(2000 * 8), [2000, 8])), ("y", DataFiles.Npy(new long[2000], [2000])));
        using var data = Open(path, Flat(8), Preprocessing.Parse(null, "2", "1", null));

        Parallel.For(0, 8, t =>
        {
            for (var i = t; i < 2000; i += 8)
            {
                var sample = new float[8];
                data.ReadSamples([i], sample);
                Assert.That(sample, Is.EqualTo(Range(8, i * 8).Select(v => v * 2 - 1)));
            }
        });
    }
}
