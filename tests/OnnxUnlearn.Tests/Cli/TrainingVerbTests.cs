using System.Text.Json;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Cli;

[TestFixture]
public class TrainingVerbTests
{
    /// <summary>The grad verb's .npz matches PyTorch autograd (tools/torch_fixtures.py) on the same batch:
    /// the fixture's own float32 input, since the batch has an activation 2.7e-7 from a ReLU's kink
    /// and preprocessing the bytes again may round the input one unit differently.</summary>
    [Test]
    public void Grad_writes_the_loss_and_every_parameter_gradient_as_pytorch_computes_them()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("grad", "--model", Fixtures.Model("fmnist_cnn_bn.onnx"), "--data", Fixtures.File("grad_fmnist_cnn_bn_frozen.npz"),
            "--preprocess", "none", "--offset", "0", "--count", "64", "--bn", "frozen", "--out", dir["g.npz"], "--quiet");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        var ours = Fixtures.ReadNpz(dir["g.npz"]);
        var torch = Fixtures.ReadNpz(Fixtures.File("grad_fmnist_cnn_bn_frozen.npz"));
        Assert.That(ours["loss"].Values[0], Is.EqualTo(torch["loss"].Values[0]).Within(1e-5));
        var parameters = torch.Keys.Where(k => !k.Contains(':') && k is not ("x" or "y" or "loss")).ToList();
        Assert.That(ours.Keys.Where(k => k != "loss"), Is.EquivalentTo(parameters));
        foreach (var name in parameters)
        {
            var scale = torch[name].Values.Max(Math.Abs);
            var worst = ours[name].Values.Select((v, i) => Math.Abs(v - torch[name].Values[i])).Max();
            Assert.That(worst / scale, Is.LessThan(1e-4), name);
            Assert.That(ours[name].Shape, Is.EqualTo(torch[name].Shape), name);
        }

        var input = CliRunner.Run("grad", "--model", Fixtures.Model("fmnist_cnn_bn.onnx"), "--data", Fixtures.Model("fmnist_train.npz"),
            "--preprocess", "fmnist", "--count", "64", "--wrt", "input", "--out", dir["gi.npz"], "--quiet");
        Assert.That(input.ExitCode, Is.EqualTo(0), input.ToString());
        Assert.That(Fixtures.ReadNpz(dir["gi.npz"]).Keys, Is.EquivalentTo(new[] { "loss", "input" }));
    }

    [Test]
    public void Grad_refuses_a_batch_outside_the_data()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("grad", "--model", Fixtures.Model("fmnist_mlp.onnx"), "--data", Fixtures.Model("fmnist_test.npz"),
            "--preprocess", "fmnist", "--offset", "4990", "--count", "64", "--out", dir["g.npz"]);
        CliRunner.AssertError(result, 2, "--offset 4990 --count 64", "5000 samples");
        Assert.That(dir.Files(), Is.Empty);
    }

    /// <summary>Retraining from scratch without a class: the baseline every unlearning result is compared with.</summary>
    [Test]
    public void Train_from_scratch_without_a_class_learns_the_others_and_never_predicts_it()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("train", "--model", Fixtures.Model("fmnist_mlp.onnx"), "--data", Fixtures.Model("fmnist_train.npz"),
            "--test", Fixtures.Model("fmnist_test.npz"), "--preprocess", "fmnist", "--reinit", "--exclude-classes", "0", "--epochs", "2",
            "--batch", "128", "--out", dir["scratch.onnx"], "--json", "--quiet", "--seed", "3");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var report = JsonDocument.Parse(result.Out);
        var test = report.RootElement.GetProperty("test");
        Assert.That(report.RootElement.GetProperty("samples").GetInt32(), Is.EqualTo(9000));
        Assert.That(test.GetProperty("forget_acc").GetDouble(), Is.LessThan(0.02), "class 0 was never seen");
        Assert.That(test.GetProperty("retain_acc").GetDouble(), Is.GreaterThan(0.75), "2 epochs on 9,000 images learn the other classes");
        var written = OnnxUnlearn.Serialization.ModelFile.LoadProto(dir["scratch.onnx"]);
        Assert.That(written.MetadataProps.Single(p => p.Key == "onnx_unlearn.job").Value, Is.EqualTo("train --reinit"));
    }
}
