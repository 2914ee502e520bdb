using System.Text.Json;
using OnnxUnlearn.Tests.Data;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Cli;

/// <summary>The forget verb end to end on the sample CNN, and its refusals.</summary>
[TestFixture]
public class ForgetVerbTests
{
    private static readonly string Model = Fixtures.Model("fmnist_cnn_bn.onnx");
    private static readonly string Data = Fixtures.Model("fmnist_test.npz");

    /// <summary>Tiny settings: the refusals come before or after seconds of work.</summary>
    private static string[] Args(TempDir dir, params string[] extra) =>
    [
        "forget", "--model", Model, "--data", Data, "--preprocess", "fmnist", "--out", dir["out.onnx"],
        "--noise-steps", "2", "--noise-batch", "16", "--min-noise-per-class", "8", "--noise-copies", "1",
        "--retain-per-class", "8", "--batch", "32", "--threads", "2", .. extra,
    ];

    [TestCase("--classes", "10", "class 10 is outside")]
    [TestCase("--classes", "-1", "--classes")]
    [TestCase("--classes", "2,2", "2")]
    [TestCase("--classes", "0,1,2,3,4,5,6,7,8,9", "every class")]
    public void Bad_class_lists_are_refused(string flag, string value, string mention)
    {
        using var dir = new TempDir();
        var result = CliRunner.Run(Args(dir, flag, value));
        CliRunner.AssertError(result, 2, mention);
        Assert.That(dir.Files(), Is.Empty);
    }

    /// <summary>A node without a gradient rule is named before any training time is spent.</summary>
    [TestCase("forget")]
    [TestCase("train")]
    [TestCase("grad")]
    public void A_model_that_cannot_be_differentiated_is_refused_up_front(string verb)
    {
        using var dir = new TempDir();
        var model = TestModels.Mlp(features: 784, classes: 10);
        var hidden = model.Graph.Nodes.Single(n => n.Name == "relu").Outputs[0];
        var normalized = model.Graph.AddNode("LpNormalization", [hidden], 1, [OnnxUnlearn.Ir.Attr.Int("axis", 1)], "lp_norm").Outputs[0];
        model.Graph.Nodes.Single(n => n.Name == "fc2").SetInput(0, normalized);
        model.Graph.TopologicalSort();
        var path = TestModels.Save(model, dir["lp.onnx"]);
        string[] args = verb == "forget"
            ? ["forget", "--model", path, "--data", Data, "--classes", "0", "--out", dir["out.onnx"]]
            : verb == "train"
                ? ["train", "--model", path, "--data", Data, "--out", dir["out.onnx"]]
                : ["grad", "--model", path, "--data", Data, "--out", dir["g.npz"]];
        var result = CliRunner.Run(args);
        CliRunner.AssertError(result, 2, "lp.onnx", "node 'lp_norm' (op LpNormalization", "no gradient rule");
        Assert.That(dir.Files(), Is.EqualTo(new[] { "lp.onnx" }));
    }

    [Test]
    public void The_output_may_not_be_the_input()
    {
        using var dir = new TempDir();
        var copy = dir["model.onnx"];
        File.Copy(Model, copy);
        var result = CliRunner.Run(["forget", "--model", copy, "--data", Data, "--classes", "0", "--out", copy]);
        CliRunner.AssertError(result, 2, "--out", "input model");
        Assert.That(File.ReadAllBytes(copy), Is.EqualTo(File.ReadAllBytes(Model)));
    }

    [Test]
    public void A_retained_class_without_samples_is_refused()
    {
        using var dir = new TempDir();
        // 20 images of classes 0..8 only: class 9 is kept but has no samples to repair with.
        var labels = Enumerable.Range(0, 20).Select(i => (long)(i % 9)).ToArray();
        var images = new byte[20 * 784];
        DataFiles.WriteNpz(dir["partial.npz"], false, ("x", DataFiles.Npy(images, [20, 1, 28, 28])), ("y", DataFiles.Npy(labels, [20])));
        var args = Args(dir, "--classes", "0");
        args[Array.IndexOf(args, Data)] = dir["partial.npz"];
        var result = CliRunner.Run(args);
        CliRunner.AssertError(result, 2, "partial.npz", "retained class 9");
        Assert.That(dir.Files(), Is.EqualTo(new[] { "partial.npz" }));
    }

    [Test]
    public void Divergence_stops_with_the_phase_and_step_and_writes_nothing()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run(Args(dir, "--classes", "0", "--impair-lr", "1e30", "--quiet"));
        CliRunner.AssertError(result, 1, "impair diverged at step", "nothing was written");
        Assert.That(dir.Files(), Is.Empty);
    }

    [Test]
    public void Report_has_the_documented_keys_and_the_output_keeps_the_graph()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run(Args(dir, "--classes", "3,5", "--report", dir["report.json"], "--json", "--quiet", "--seed", "4"));
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(dir["report.json"]));
        var root = report.RootElement;
        Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[]
        {
            "method", "forget_classes", "device", "seed", "hyperparameters", "samples", "metrics", "rounds", "forget_check_acc", "round_log", "evaluated_on", "timings_s",
            "input_sha256", "output_sha256",
        }));
        Assert.That(root.GetProperty("forget_classes").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 3, 5 }));
        Assert.That(root.GetProperty("seed").GetInt32(), Is.EqualTo(4));
        Assert.That(root.GetProperty("samples").GetProperty("noise").GetInt32(), Is.EqualTo(16));
        Assert.That(root.GetProperty("samples").GetProperty("retain_subset").GetInt32(), Is.EqualTo(64));
        Assert.That(root.GetProperty("hyperparameters").GetProperty("noise_label").GetString(), Is.EqualTo("own class"));
        foreach (var phase in new[] { "before", "after_impair", "after" })
        {
            var m = root.GetProperty("metrics").GetProperty(phase);
            Assert.That(m.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "forget_acc", "retain_acc", "test_acc", "per_class_acc" }));
        }
        Assert.That(root.GetProperty("timings_s").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "noise", "impair", "repair", "total" }));
        var rounds = root.GetProperty("round_log").EnumerateArray().ToList();
        Assert.That(rounds, Has.Count.EqualTo(root.GetProperty("rounds").GetInt32()));
        Assert.That(rounds.Select(r => r.EnumerateObject().Select(p => p.Name)), Has.All.EquivalentTo(new[] { "impair_lr", "forget_check_acc", "impair_s", "repair_s" }));
        Assert.That(rounds[^1].GetProperty("forget_check_acc").GetDouble(), Is.EqualTo(root.GetProperty("forget_check_acc").GetDouble()));
        Assert.That(root.GetProperty("output_sha256").GetString(), Is.EqualTo(OnnxUnlearn.Training.ModelExporter.Sha256(dir["out.onnx"])));
        Assert.That(JsonDocument.Parse(result.Out).RootElement.GetProperty("method").GetString(), Is.EqualTo("unsir"));

        // Same graph, same interface: only initializer values and metadata differ.
        var original = OnnxUnlearn.Serialization.ModelFile.LoadProto(Model);
        var written = OnnxUnlearn.Serialization.ModelFile.LoadProto(dir["out.onnx"]);
        Assert.That(written.Graph.Node, Is.EqualTo(original.Graph.Node));
        Assert.That(written.Graph.Input, Is.EqualTo(original.Graph.Input));
        Assert.That(written.Graph.Output, Is.EqualTo(original.Graph.Output));
        Assert.That(written.OpsetImport, Is.EqualTo(original.OpsetImport));
        Assert.That(written.Graph.Initializer.Select(i => (i.Name, i.DataType, string.Join(",", i.Dims))),
            Is.EqualTo(original.Graph.Initializer.Select(i => (i.Name, i.DataType, string.Join(",", i.Dims)))));
        Assert.That(written.MetadataProps.Select(p => p.Key), Does.Contain("onnx_unlearn.source_sha256"));

        // The preprocessing is recorded, so the next command needs no flags.
        var plain = CliRunner.Run("eval", "--model", dir["out.onnx"], "--data", Data, "--json", "--quiet");
        var flagged = CliRunner.Run("eval", "--model", dir["out.onnx"], "--data", Data, "--preprocess", "fmnist", "--json", "--quiet");
        Assert.That(plain.ExitCode, Is.EqualTo(0), plain.ToString());
        Assert.That(plain.Out, Is.EqualTo(flagged.Out));
        Assert.That(dir.Files(), Is.EquivalentTo(new[] { "out.onnx", "report.json" }));
    }
}
