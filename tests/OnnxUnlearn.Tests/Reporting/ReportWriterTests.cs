using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Reporting;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Evaluation;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Reporting;

/// <summary>The report folder: every file written, images with valid headers, Markdown with the tables.</summary>
public sealed class ReportWriterTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static AccuracyReport Accuracy(int[] correct) =>
        new(Enumerable.Repeat(10, correct.Length).ToArray(), correct, new HashSet<int> { 1 });

    private static MiaReport Mia(float targetConfidence)
    {
        int[] labels = [.. Enumerable.Range(0, 60).Select(i => i % 3)];
        float[] Rows(Func<int, float> p) => [.. labels.SelectMany((l, i) => Enumerable.Range(0, 3).Select(c => c == l ? p(i) : (1 - p(i)) / 2))];
        return MembershipInference.Evaluate(3, Rows(i => 0.9f + i % 10 * 0.005f), labels, Rows(i => 0.5f + i % 10 * 0.02f), labels, Rows(_ => targetConfidence), labels);
    }

    private static UnlearningReport Report(InputSpec input, int perClass = 6) => new()
    {
        Method = "unsir",
        Model = "model.onnx",
        Output = "out.onnx",
        ForgetClasses = [1],
        ClassNames = ["cat", "dog", "bird"],
        EvaluatedOn = "test.npz",
        Before = new ModelFigures("before (original)", Accuracy([9, 8, 7]), Mia(0.95f)),
        AfterImpair = new ModelFigures("after impair", Accuracy([5, 0, 4])),
        After = new ModelFigures("after UNSIR", Accuracy([9, 0, 7]), Mia(0.4f)),
        Baseline = new ModelFigures("baseline (retrained)", Accuracy([8, 0, 8]), Mia(0.45f)),
        BaselineModel = "retrained.onnx",
        Settings = [new("seed", "0"), new("noise_lr", "0.1")],
        TimingsSeconds = new Dictionary<string, double> { ["noise"] = 1.5, ["impair"] = 3, ["repair"] = 2, ["total"] = 6.5 },
        Losses = new Dictionary<string, IReadOnlyList<float>>
        {
            ["noise"] = [.. Enumerable.Range(0, 20).Select(i => 10f - i)],
            ["impair"] = [.. Enumerable.Range(0, 12).Select(i => 2f / (i + 1))],
            ["repair"] = [.. Enumerable.Range(0, 12).Select(i => 1f / (i + 1))],
        },
        Rounds = 2,
        Noise = new LearnedNoise([.. Enumerable.Range(0, perClass * input.SampleSize).Select(i => (float)Math.Sin(i * 0.37))], perClass, input),
    };

    [Test]
    public void Report_dir_has_every_file_with_valid_images_and_the_tables()
    {
        using var dir = new TempDir();
        var report = Report(new InputSpec("input", InputLayout.Nchw, [1, 8, 8]));

        var files = ReportWriter.WriteDirectory(dir.Root, report, "{\"method\":\"unsir\"}");

        string[] charts = ["per_class_accuracy", "losses", "noise"];
        Assert.That(dir.Files(), Is.EquivalentTo(new[] { "report.json", "report.md" }.Concat(charts.SelectMany(c => new[] { c + ".png", c + ".svg" }))));
        Assert.That(files, Is.EquivalentTo(dir.Files()));
        foreach (var chart in charts)
        {
            var png = File.ReadAllBytes(dir[chart + ".png"]);
            Assert.That(png.Take(8), Is.EqualTo(PngSignature), chart);
            Assert.That(png.Length, Is.GreaterThan(2000), chart);
            var svg = XDocument.Load(dir[chart + ".svg"]);
            Assert.That(svg.Root!.Name.LocalName, Is.EqualTo("svg"), chart);
            Assert.That(svg.Descendants().Count(), Is.GreaterThan(10), chart);
        }
        if (SkiaSharp.SKFontManager.Default.FontFamilyCount > 0) // text needs a font on the machine (DejaVu on Debian)
            Assert.That(File.ReadAllText(dir["losses.svg"]), Does.Contain("cross-entropy (nats)"));
        Assert.That(File.ReadAllText(dir["noise.svg"]), Does.Contain("<image"));
        Assert.That(JsonDocument.Parse(File.ReadAllText(dir["report.json"])).RootElement.GetProperty("method").GetString(), Is.EqualTo("unsir"));

        var md = File.ReadAllText(dir["report.md"]);
        Assert.Multiple(() =>
        {
            Assert.That(md, Does.Contain("| model | forget acc | retain acc | test acc | MIA entropy | MIA confidence |"));
            Assert.That(md, Does.Contain("| before (original) | 80.00 % | 80.00 % | 80.00 % |"));
            Assert.That(md, Does.Contain("| after UNSIR | 0.00 % | 80.00 % | 53.33 % |"));
            Assert.That(md, Does.Contain("| baseline (retrained) | 0.00 % |"));
            Assert.That(md, Does.Contain("| class | samples | before (original) | after UNSIR | baseline (retrained) | set |"));
            Assert.That(md, Does.Contain("| 1 dog | 10 | 80.00 % | 0.00 % | 0.00 % | **forget** |"));
            Assert.That(md, Does.Contain("![Accuracy per class](per_class_accuracy.png)"));
            Assert.That(md, Does.Contain("![Loss per step](losses.png)"));
            Assert.That(md, Does.Contain("![Learned noise](noise.png)"));
            Assert.That(md, Does.Contain("| noise_lr | 0.1 |"));
            Assert.That(md, Does.Contain("| impair | 3.0 |"));
            Assert.That(md, Does.Contain("`retrained.onnx`"));
        });
    }

    [Test]
    public void Flat_inputs_get_no_noise_chart_and_the_report_says_why()
    {
        using var dir = new TempDir();
        var report = Report(new InputSpec("input", InputLayout.Flat, [20])) with { Baseline = null, BaselineModel = null };

        ReportWriter.WriteDirectory(dir.Root, report, "{}");

        Assert.That(dir.Files(), Does.Not.Contain("noise.png"));
        var md = File.ReadAllText(dir["report.md"]);
        Assert.That(md, Does.Contain("not drawn"));
        Assert.That(md, Does.Not.Contain("| baseline"));
    }

    [Test]
    public void Noise_images_are_rescaled_to_the_full_range_each()
    {
        var input = new InputSpec("input", InputLayout.Nhwc, [2, 2, 3]);
        float[] sample = [-3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        using var bitmap = Charts.ToBitmap(sample, input);
        Assert.Multiple(() =>
        {
            Assert.That(bitmap.GetPixel(0, 0).Red, Is.EqualTo(0));
            Assert.That(bitmap.GetPixel(1, 1).Blue, Is.EqualTo(255));
            Assert.That(bitmap.GetPixel(1, 0).Green, Is.EqualTo(96), "0 of −3..5 → 3/8 of 255");
        });
        Assert.That(Charts.IsImage(new InputSpec("input", InputLayout.Nchw, [4, 8, 8])), Is.False, "4 channels are not an image");
    }

    [Test]
    public void Forget_with_report_dir_baseline_and_mia_writes_the_report()
    {
        using var dir = new TempDir();
        // Random images of every class stand in for the data: the point is the files, not the figures.
        var (x, y) = TestData.RandomImages(200, 1, 28, 10);
        for (var i = 0; i < y.Length; i++) y[i] = i % 10;
        var train = TestData.Npz(dir["train.npz"], x, [200, 1, 28, 28], y);
        var (tx, ty) = TestData.RandomImages(100, 1, 28, 10, seed: 9);
        for (var i = 0; i < ty.Length; i++) ty[i] = i % 10;
        var test = TestData.Npz(dir["test.npz"], tx, [100, 1, 28, 28], ty);
        var model = Fixtures.Model("fmnist_cnn_bn.onnx");

        var result = CliRunner.Run("forget", "--model", model, "--data", train, "--test", test, "--preprocess", "fmnist", "--classes", "0",
            "--out", dir["out.onnx"], "--noise-steps", "2", "--noise-batch", "16", "--min-noise-per-class", "8", "--noise-copies", "1",
            "--retain-per-class", "8", "--batch", "32", "--max-rounds", "1", "--threads", "2", "--quiet", "--json",
            "--baseline", Fixtures.Model("fmnist_cnn_folded.onnx"), "--mia", "--report-dir", dir["report"]);

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        var baseline = root.GetProperty("baseline");
        Assert.That(baseline.EnumerateObject().Select(p => p.Name), Is.SupersetOf(new[] { "forget_acc", "retain_acc", "test_acc", "per_class_acc", "mia_entropy", "mia_confidence" }));
        Assert.That(root.GetProperty("metrics").GetProperty("after").TryGetProperty("mia_confidence", out _), Is.True);
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(dir["report/report.json"])), JsonNode.Parse(result.Out)), Is.True,
            "report.json is the --json document");
        Assert.That(Directory.GetFiles(dir["report"]).Select(Path.GetFileName), Is.EquivalentTo(new[]
        {
            "report.json", "report.md", "per_class_accuracy.png", "per_class_accuracy.svg", "losses.png", "losses.svg", "noise.png", "noise.svg",
        }));
        Assert.That(File.ReadAllText(dir["report/report.md"]), Does.Contain("| baseline (retrained) |").And.Contain("MIA entropy"));
    }

    [Test]
    public void Forget_refuses_mia_without_test_data()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("forget", "--model", Fixtures.Model("fmnist_cnn_bn.onnx"), "--data", Fixtures.Model("fmnist_test.npz"),
            "--classes", "0", "--out", dir["out.onnx"], "--mia");
        CliRunner.AssertError(result, 2, "--mia", "--test");
        Assert.That(dir.Files(), Is.Empty);
    }
}
