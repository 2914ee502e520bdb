using System.Text.Json;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Training;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Evaluation;

/// <summary>Weight, prediction and output distances, and the compare verb.</summary>
public sealed class ModelComparisonTests
{
    private static readonly string Mlp = Fixtures.Model("fmnist_mlp.onnx");
    private static readonly string Cnn = Fixtures.Model("fmnist_cnn_bn.onnx");
    private static readonly string Test = Fixtures.Model("fmnist_test.npz");
    private static readonly string Train = Fixtures.Model("fmnist_train.npz");

    [Test]
    public void A_model_is_at_distance_zero_from_itself()
    {
        var model = TestModels.TwoConvCnn();
        var comparison = ModelComparison.CompareWeights(model, TestModels.TwoConvCnn());
        Assert.Multiple(() =>
        {
            Assert.That(comparison.Matched.Select(d => d.Name), Does.Contain("conv1.weight").And.Contain("bn1.running_var"));
            Assert.That(comparison.Matched.Select(d => d.Relative), Is.All.EqualTo(0));
            Assert.That(comparison.Mismatched, Is.Empty);
            Assert.That(comparison.TotalRelative, Is.EqualTo(0));
        });
    }

    [Test]
    public void Relative_distance_is_the_norm_of_the_change_over_the_norm_of_a()
    {
        var a = TestModels.TwoConvCnn();
        var values = a.Graph["fc.weight"].Initializer!.ToFloatArray();
        var b = Model.FromProto(ModelExporter.WithInitializers(a.ToProto(),
            new Dictionary<string, float[]> { ["fc.weight"] = [.. values.Select(v => v * 1.5f)] }));

        var comparison = ModelComparison.CompareWeights(a, b);

        var distance = comparison.Matched.Single(d => d.Name == "fc.weight");
        Assert.That(distance.Relative, Is.EqualTo(0.5).Within(1e-6));
        Assert.That(comparison.Matched.Where(d => d.Name != "fc.weight").Select(d => d.Relative), Is.All.EqualTo(0));
        Assert.That(comparison.TotalRelative, Is.GreaterThan(0).And.LessThan(0.5));
    }

    [Test]
    public void Initializers_of_another_shape_or_of_one_model_only_are_reported_apart()
    {
        var a = TestModels.TwoConvCnn(classes: 3);
        var b = TestModels.TwoConvCnn(classes: 4, batchNorm: false);

        var comparison = ModelComparison.CompareWeights(a, b);

        Assert.That(comparison.Mismatched.Single(m => m.Name == "fc.weight"), Is.EqualTo(new WeightMismatch("fc.weight", "float [3, 6]", "float [4, 6]")));
        Assert.That(comparison.Mismatched.Single(m => m.Name == "bn1.weight").InB, Is.Null);
        Assert.That(comparison.Matched.Select(d => d.Name), Does.Contain("conv1.weight").And.Not.Contain("fc.weight"));
    }

    [Test]
    public void Agreement_and_mean_l2_distance()
    {
        Assert.That(ModelComparison.Agreement([0, 1, 2, 3], [0, 1, 0, 3]), Is.EqualTo(0.75));
        // Rows: identical (0), and (1,0) vs (0,1): √2.
        Assert.That(ModelComparison.MeanL2Distance([0.5f, 0.5f, 1f, 0f], [0.5f, 0.5f, 0f, 1f], 2), Is.EqualTo(Math.Sqrt(2) / 2).Within(1e-9));
    }

    [Test]
    public void Compare_of_a_model_with_itself_gives_zero_distances_and_full_agreement()
    {
        var result = CliRunner.Run("compare", "--a", Mlp, "--b", Mlp, "--data", Test, "--train", Train, "--classes", "0",
            "--preprocess", "fmnist", "--json", "--quiet", "--threads", "2");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        var a = root.GetProperty("a");
        var b = root.GetProperty("b");
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("agreement").GetDouble(), Is.EqualTo(1));
            Assert.That(root.GetProperty("agreement_forget").GetDouble(), Is.EqualTo(1));
            Assert.That(root.GetProperty("activation_distance").GetProperty("mean_l2").GetDouble(), Is.EqualTo(0));
            Assert.That(root.GetProperty("activation_distance").GetProperty("count").GetInt32(), Is.EqualTo(500));
            Assert.That(root.GetProperty("activation_distance").GetProperty("train").GetProperty("mean_l2").GetDouble(), Is.EqualTo(0));
            Assert.That(root.GetProperty("weights").GetProperty("total_relative").GetDouble(), Is.EqualTo(0));
            Assert.That(root.GetProperty("weights").GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("relative").GetDouble()), Is.All.EqualTo(0));
            Assert.That(root.GetProperty("weights").GetProperty("mismatched").GetArrayLength(), Is.EqualTo(0));
            Assert.That(a.GetProperty("accuracy").GetDouble(), Is.EqualTo(b.GetProperty("accuracy").GetDouble()).And.GreaterThan(0.8));
            Assert.That(a.GetProperty("mia_entropy").GetDouble(), Is.EqualTo(b.GetProperty("mia_entropy").GetDouble()).And.InRange(0, 1));
            Assert.That(a.GetProperty("mia_confidence").GetDouble(), Is.EqualTo(b.GetProperty("mia_confidence").GetDouble()).And.InRange(0, 1));
        });
    }

    [Test]
    public void Compare_text_shows_the_tables_and_the_unmatched_weights()
    {
        var result = CliRunner.Run("compare", "--a", Cnn, "--b", Mlp, "--data", Test, "--classes", "0", "--preprocess", "fmnist", "--quiet", "--threads", "2");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.Contain("agreement").And.Contain("activation distance").And.Contain("forget acc")
            .And.Contain("initializer not matched").And.Contain("a acc"));
    }

    [Test]
    public void Compare_refuses_train_without_classes_and_models_of_other_classes()
    {
        CliRunner.AssertError(CliRunner.Run("compare", "--a", Mlp, "--b", Mlp, "--data", Test, "--train", Train), 2, "--classes");

        using var dir = new TempDir();
        var other = dir["three.onnx"];
        OnnxUnlearn.Serialization.ModelFile.Save(TestModels.TwoConvCnn(classes: 3).ToProto(), other);
        CliRunner.AssertError(CliRunner.Run("compare", "--a", Mlp, "--b", other, "--data", Test), 2, "three.onnx", "classes");
    }

    [Test]
    public void Eval_with_mia_adds_the_scores_to_text_and_json()
    {
        string[] args = ["eval", "--model", Mlp, "--data", Test, "--preprocess", "fmnist", "--classes", "0", "--mia", "--train", Train, "--quiet", "--threads", "2"];
        var json = CliRunner.Run([.. args, "--json"]);
        Assert.That(json.ExitCode, Is.EqualTo(0), json.ToString());
        using var doc = JsonDocument.Parse(json.Out);
        Assert.That(doc.RootElement.GetProperty("mia_entropy").GetDouble(), Is.InRange(0, 1));
        Assert.That(doc.RootElement.GetProperty("mia_confidence").GetDouble(), Is.InRange(0, 1));

        var text = CliRunner.Run(args);
        Assert.That(text.ExitCode, Is.EqualTo(0), text.ToString());
        Assert.That(text.Out, Does.Contain("mia entropy").And.Contain("mia confidence"));

        var plain = CliRunner.Run("eval", "--model", Mlp, "--data", Test, "--preprocess", "fmnist", "--classes", "0", "--json", "--quiet");
        using var plainDoc = JsonDocument.Parse(plain.Out);
        Assert.That(plainDoc.RootElement.TryGetProperty("mia_entropy", out _), Is.False);
    }

    [TestCase("--mia", "--train")]
    [TestCase("--train", "--mia")]
    public void Eval_refuses_mia_without_its_inputs(string given, string mention)
    {
        string[] args = given == "--mia" ? ["--mia", "--classes", "0"] : ["--train", Train, "--classes", "0"];
        CliRunner.AssertError(CliRunner.Run(["eval", "--model", Mlp, "--data", Test, .. args]), 2, mention);
    }
}
