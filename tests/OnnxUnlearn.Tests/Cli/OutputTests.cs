using OnnxUnlearn.Cli;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Tests.Evaluation;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Cli;

/// <summary>Progress lines, tables, number formats, JSON helpers and class lists.</summary>
public sealed class OutputTests
{
    [Test]
    public void ProgressPrintsPhaseStepLossAndEtaAndRespectsQuiet()
    {
        var err = new StringWriter();
        var progress = new Progress(err, quiet: false) { Interval = TimeSpan.Zero };
        var phase = progress.Phase("impair", 4);
        phase.Step(1, 2.5);
        phase.Step(2, 1.25, "lr 0.02");
        phase.Step(4, 0.5);
        phase.Done("2 epochs");
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(4));
        Assert.That(lines[0], Does.Match(@"^\[impair\] step 1/4  loss 2\.5  \d+\.\d s$"));
        Assert.That(lines[1], Does.Match(@"^\[impair\] step 2/4  loss 1\.25  lr 0\.02  \d+\.\d s  eta \d+\.\d s$"));
        Assert.That(lines[2], Does.Not.Contain("eta"));
        Assert.That(lines[3], Does.Match(@"^\[impair\] done in \d+\.\d s  2 epochs$"));

        var quiet = new StringWriter();
        var silent = new Progress(quiet, quiet: true);
        silent.Info("hello");
        var p = silent.Phase("noise", 2);
        p.Step(1, 1);
        p.Done();
        Assert.That(quiet.ToString(), Is.Empty);
    }

    [Test]
    public void ProgressThrottlesStepLinesButKeepsTheFirstAndLast()
    {
        var err = new StringWriter();
        var phase = new Progress(err, quiet: false) { Interval = TimeSpan.FromHours(1) }.Phase("eval", 100);
        for (var step = 1; step <= 100; step++) phase.Step(step);
        Assert.That(err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[2]),
            Is.EqualTo(new[] { "1/100", "100/100" }));
    }

    [Test]
    public void TablesAlignNumbersRight()
    {
        var table = new TextTable("class", "name", "accuracy");
        table.Add("0", "T-shirt", "88.80 %");
        table.Add("10", "Bag", "100.00 %");
        var writer = new StringWriter();
        table.Write(writer);
        Assert.That(writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "class  name     accuracy",
            "    0  T-shirt   88.80 %",
            "   10  Bag      100.00 %",
        }));
    }

    [TestCase(0L, "0 B")]
    [TestCase(1023L, "1023 B")]
    [TestCase(320751L, "313 KiB")]
    [TestCase(5L * 1024 * 1024 + 300 * 1024, "5.29 MiB")]
    public void BytesAreHumanReadable(long bytes, string expected) => Assert.That(Format.Bytes(bytes), Is.EqualTo(expected));

    [Test]
    public void PercentAndCountUseTheInvariantCulture()
    {
        Assert.That(Format.Percent(0.9106), Is.EqualTo("91.06 %"));
        Assert.That(Format.Percent(null), Is.EqualTo("-"));
        Assert.That(Format.Count(1234567), Is.EqualTo("1,234,567"));
    }

    [Test]
    public void AccuracyJsonOmitsForgetKeysWithoutClasses()
    {
        var plain = JsonOutput.Accuracy(new AccuracyReport([2, 0], [1, 0])).ToJsonString();
        Assert.That(plain, Is.EqualTo("""{"count":2,"accuracy":0.5,"per_class_acc":[0.5,null]}"""));
        var split = JsonOutput.Accuracy(new AccuracyReport([2, 0], [1, 0], new HashSet<int> { 1 })).ToJsonString();
        Assert.That(split, Is.EqualTo("""{"count":2,"accuracy":0.5,"per_class_acc":[0.5,null],"forget_acc":null,"retain_acc":0.5}"""));
    }

    [Test]
    public void ClassListsAcceptIndicesAndNames()
    {
        Assert.That(ClassArgument.Parse(" 5, 3 ", 10), Is.EqualTo(new[] { 3, 5 }));
        Assert.That(ClassArgument.Parse("Bag,0", 10, ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]),
            Is.EqualTo(new[] { 0, 8 }));
        Assert.Throws<UserInputException>(() => ClassArgument.Parse("Bag", 10));
        Assert.Throws<UserInputException>(() => ClassArgument.Parse("-1", 10));
        Assert.Throws<UserInputException>(() => ClassArgument.Parse("", 10));
    }

    [Test]
    public void EvalTakesClassNamesFromAClassMap()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.Passthrough(), dir["p.onnx"]);
        var (x, y) = TestData.Passthrough10();
        var data = TestData.Npz(dir["d.npz"], x, [10, 3], y);
        File.WriteAllLines(dir["classes.txt"], ["cat", "dog", "bird"]);
        var json = CliRunner.Run("eval", "--model", model, "--data", data, "--class-map", dir["classes.txt"], "--classes", "dog", "--json", "-q");
        Assert.That(json.Out, Does.Contain("\"forget_acc\":0.5,"), json.ToString());
        var text = CliRunner.Run("eval", "--model", model, "--data", data, "--class-map", dir["classes.txt"], "-q");
        Assert.That(text.Out, Does.Match(@"class\s+name\s+samples"));
        Assert.That(text.Out, Does.Match(@"2\s+bird\s+2\s+2\s+100\.00 %"));
    }
}
