using System.Text.Json;
using OnnxUnlearn.Cli;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Tests.Data;
using OnnxUnlearn.Tests.Evaluation;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Cli;

/// <summary>The command line: verbs, help, output formats and the exit-code policy.</summary>
public sealed class CliTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void EveryRegisteredVerbIsACommand()
    {
        foreach (var verb in Program.Verbs)
        {
            Assert.That(typeof(ICommand).IsAssignableFrom(verb), Is.True, verb.Name);
            Assert.That(verb.GetCustomAttributes(typeof(CommandLine.VerbAttribute), false), Has.Length.EqualTo(1), verb.Name);
        }
    }

    [TestCase("--help")]
    [TestCase("help")]
    [TestCase("eval", "--help")]
    [TestCase("help", "inspect")]
    public void HelpGoesToStdoutWithExitZero(params string[] args)
    {
        var result = CliRunner.Run(args);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.Contain("onnx-unlearn"));
        Assert.That(result.Err, Is.Empty);
    }

    [Test]
    public void VersionGoesToStdoutWithExitZero()
    {
        var result = CliRunner.Run("--version");
        Assert.That(result.ExitCode, Is.EqualTo(0));
        Assert.That(result.Out.Trim(), Does.Match(@"^onnx-unlearn \d+\.\d+\.\d+$"));
    }

    [TestCase(new string[0], "No verb selected")]
    [TestCase(new[] { "frobnicate" }, "Verb 'frobnicate' is not recognized")]
    [TestCase(new[] { "inspect", "--no-such-flag", "m.onnx" }, "Option 'no-such-flag' is unknown")]
    [TestCase(new[] { "inspect" }, "MODEL")]
    [TestCase(new[] { "eval", "--model", "m.onnx" }, "Required option 'data' is missing")]
    [TestCase(new[] { "eval", "--model", "m.onnx", "--data", "d.npz", "--batch", "many" }, "batch")]
    public void BadFlagsPrintHelpOnStderrWithExitTwo(string[] args, string mention)
    {
        var result = CliRunner.Run(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Out, Is.Empty);
        Assert.That(result.Err, Does.Contain(mention));
        Assert.That(result.Err, Does.Contain("help"), "the help text follows the error");
        Assert.That(result.Err, Does.Not.Contain("   at "));
    }

    [Test]
    public void InspectPrintsAReadableSummary()
    {
        var path = TestModels.Save(TestModels.Cnn(classes: 3), _dir["cnn.onnx"]);
        var result = CliRunner.Run("inspect", path);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.Contain("input  float32 [batch, 1, 8, 8]"));
        Assert.That(result.Out, Does.Contain("3 classes; head logits (output 'logits')"));
        Assert.That(result.Out, Does.Contain("input layout   NCHW"));
        Assert.That(result.Out, Does.Match(@"trainable\s+(yes|no)"));
        Assert.That(result.Out, Does.Contain("Conv 1"));
    }

    [Test]
    public void InspectJsonHasTheDocumentedKeys()
    {
        var path = TestModels.Save(TestModels.Mlp(softmax: true), _dir["mlp.onnx"]);
        var result = CliRunner.Run("inspect", path, "--json");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.That(root.GetProperty("ir_version").GetInt64(), Is.EqualTo(8));
        Assert.That(root.GetProperty("opset_imports")[0].GetProperty("domain").GetString(), Is.EqualTo("ai.onnx"));
        Assert.That(root.GetProperty("inputs")[0].GetProperty("shape").ToString(), Is.EqualTo("""["batch",4]""").IgnoreWhiteSpace);
        Assert.That(root.GetProperty("op_histogram").GetProperty("Gemm").GetInt32(), Is.EqualTo(2));
        Assert.That(root.GetProperty("parameter_count").GetInt64(), Is.EqualTo(8 * 4 + 8 + 3 * 8 + 3));
        Assert.That(root.GetProperty("external_data").GetProperty("used").GetBoolean(), Is.False);
        Assert.That(root.GetProperty("classifier").GetProperty("head").GetString(), Is.EqualTo("softmax"));
        Assert.That(root.GetProperty("classifier").GetProperty("num_classes").GetInt32(), Is.EqualTo(3));
        Assert.That(root.GetProperty("trainability").GetProperty("trainable").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("not_classifier_reason").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void InspectOfAModelThatIsNotAClassifierSaysWhy()
    {
        var model = TestModels.Mlp();
        model.Graph.AddInput("extra", TensorTypes.Float(-1, 2));
        var path = TestModels.Save(model, _dir["two-inputs.onnx"]);
        var result = CliRunner.Run("inspect", path);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.Contain("classifier     no: the model has 2 data inputs"));
        Assert.That(result.Out, Does.Contain("trainable      not checked"));
        Assert.That(result.Out, Does.Contain("Gemm 2"));
    }

    [Test]
    public void EvalJsonIsExactlyTheDocumentedObject()
    {
        var model = TestModels.Save(TestModels.Passthrough(), _dir["p.onnx"]);
        var (x, y) = TestData.Passthrough10();
        var data = TestData.Npz(_dir["d.npz"], x, [10, 3], y);

        var plain = CliRunner.Run("eval", "--model", model, "--data", data, "--json", "--quiet");
        Assert.That(plain.ExitCode, Is.EqualTo(0), plain.ToString());
        Assert.That(plain.Out, Is.EqualTo("""{"count":10,"accuracy":0.7,"per_class_acc":[0.75,0.5,1]}""" + Environment.NewLine));
        Assert.That(plain.Err, Is.Empty, "--quiet prints no progress");

        var split = CliRunner.Run("eval", "--model", model, "--data", data, "--json", "--classes", "1", "--quiet");
        Assert.That(split.Out.TrimEnd(), Is.EqualTo("""{"count":10,"accuracy":0.7,"per_class_acc":[0.75,0.5,1],"forget_acc":0.5,"retain_acc":0.8333333333333334}"""));
    }

    [Test]
    public void EvalJsonHasNullForAClassAbsentFromTheData()
    {
        var model = TestModels.Save(TestModels.Passthrough(classes: 4), _dir["p.onnx"]);
        var data = TestData.Npz(_dir["d.npz"], [1, 0, 0, 0, 0, 0, 0, 1], [2, 4], [0, 3]);
        var result = CliRunner.Run("eval", "--model", model, "--data", data, "--json", "-q", "--classes", "2,3");
        Assert.That(result.Out.TrimEnd(), Is.EqualTo("""{"count":2,"accuracy":1,"per_class_acc":[1,null,null,1],"forget_acc":1,"retain_acc":1}"""));
    }

    [Test]
    public void EvalPrintsATableAndProgress()
    {
        var model = TestModels.Save(TestModels.Passthrough(), _dir["p.onnx"]);
        var (x, y) = TestData.Passthrough10();
        var data = TestData.Npz(_dir["d.npz"], x, [10, 3], y);
        var result = CliRunner.Run("eval", "--model", model, "--data", data, "--classes", "1", "--batch", "4", "--threads", "1");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Out, Does.Contain("accuracy       70.00 %  (7 / 10)"));
        Assert.That(result.Out, Does.Contain("forget         50.00 %  (classes 1; 4 samples)"));
        Assert.That(result.Out, Does.Contain("retain         83.33 %"));
        Assert.That(result.Out, Does.Match(@"class\s+samples\s+correct\s+accuracy\s+set"));
        Assert.That(result.Out, Does.Match(@"1\s+4\s+2\s+50\.00 %\s+forget"));
        Assert.That(result.Err, Does.Contain("[eval] step 3/3"));
    }

    [Test]
    public void EvalAppliesPreprocessingFlags()
    {
        // Two samples whose argmax is wrong; scaling by -1 makes the argmin win (right for both);
        // subtracting -5 from feature 1 (per-feature mean) makes feature 1 win (right for one).
        var model = TestModels.Save(TestModels.Passthrough(), _dir["p.onnx"]);
        var data = TestData.Npz(_dir["d.npz"], [3, 1, 2, 1, 3, 2], [2, 3], [1, 0]);
        Assert.That(CliRunner.Run("eval", "--model", model, "--data", data, "--json", "-q").Out.TrimEnd(), Does.Contain("\"accuracy\":0,"));
        Assert.That(CliRunner.Run("eval", "--model", model, "--data", data, "--json", "-q", "--scale", "-1").Out.TrimEnd(), Does.Contain("\"accuracy\":1,"));
        Assert.That(CliRunner.Run("eval", "--model", model, "--data", data, "--json", "-q", "--mean", "0,-5,0").Out.TrimEnd(), Does.Contain("\"accuracy\":0.5,"));
    }

    [Test]
    public void RawPixelsWithoutAnyPreprocessingGetAWarning()
    {
        var model = TestModels.Passthrough();
        var plain = TestModels.Save(model, _dir["p.onnx"]);
        model.SetMetadata(Preprocessing.MetadataKey, Preprocessing.FromPreset("mnist").ToMetadata());
        var recorded = TestModels.Save(model, _dir["recorded.onnx"]);
        long[] labels = [2, 0];
        var pixels = TestData.Npz(_dir["pixels.npz"], ("x", DataFiles.Npy(new byte[] { 1, 2, 200, 9, 3, 4 }, [2, 3])), ("y", TestData.Npy(labels)));
        var floats = TestData.Npz(_dir["floats.npz"], [1, 2, 200, 9, 3, 4], [2, 3], labels);

        var warned = CliRunner.Run("eval", "--model", plain, "--data", pixels, "--json", "-q");
        Assert.That(warned.ExitCode, Is.EqualTo(0), warned.ToString());
        Assert.That(warned.ErrLines, Has.Exactly(1).StartsWith($"warning: {pixels} holds 8-bit pixels").And.Contains("--preprocess none"));
        Assert.That(warned.Out, Does.Contain("\"accuracy\":1,"), "a warning, not an error: the job runs");

        foreach (var quiet in new[]
        {
            CliRunner.Run("eval", "--model", plain, "--data", pixels, "--json", "-q", "--preprocess", "none"),
            CliRunner.Run("eval", "--model", plain, "--data", pixels, "--json", "-q", "--scale", "1/255"),
            CliRunner.Run("eval", "--model", recorded, "--data", pixels, "--json", "-q"),
            CliRunner.Run("eval", "--model", plain, "--data", floats, "--json", "-q"),
        })
        {
            Assert.That(quiet.ExitCode, Is.EqualTo(0), quiet.ToString());
            Assert.That(quiet.Err, Is.Empty, quiet.ToString());
        }
    }

    [Test]
    public void AFailureOfTheJobExitsOneWithoutAStackTrace()
    {
        var path = TestModels.Save(ReshapeFailure(), _dir["bad-reshape.onnx"]);
        var data = TestData.Npz(_dir["d.npz"], new float[8], [2, 4], [0, 1]);
        var result = CliRunner.Run("eval", "--model", path, "--data", data, "-q");
        CliRunner.AssertError(result, 1, "ONNX Runtime failed on batch 0");
    }

    [Test]
    public void VerbosePrintsTheStackTrace()
    {
        var path = TestModels.Save(ReshapeFailure(), _dir["bad-reshape.onnx"]);
        var data = TestData.Npz(_dir["d.npz"], new float[8], [2, 4], [0, 1]);
        var result = CliRunner.Run("eval", "--model", path, "--data", data, "-q", "--verbose");
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.ErrLines[0], Does.StartWith("error: ONNX Runtime failed on batch 0"));
        Assert.That(result.Err, Does.Contain("   at "));

        var missing = CliRunner.Run("inspect", _dir["nope.onnx"], "--verbose");
        Assert.That(missing.ExitCode, Is.EqualTo(2));
        Assert.That(missing.Err, Does.Contain("UserInputException"));
    }

    /// <summary>[N, 4] → Reshape to [-1, 3]: loads, but fails at run time unless 4N is a multiple of 3.</summary>
    private static Model ReshapeFailure()
    {
        var graph = new Graph("reshape");
        var x = graph.AddInput("x", TensorTypes.Float(-1, 4));
        var shape = graph.AddInitializer(TensorData.FromInt64s("shape", [2], [-1, 3]));
        var y = graph.AddNode("Reshape", [x, shape], name: "reshape", outputNames: ["y"]).Outputs[0];
        y.Type = TensorTypes.Float(-1, 3);
        graph.Outputs.Add(y);
        return new Model(TestModels.Header(), graph);
    }
}
