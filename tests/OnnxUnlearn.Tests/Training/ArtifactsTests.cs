using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Training;

[TestFixture]
public class ArtifactsTests
{
    /// <summary>
    /// A fresh session runs one training step driven only by manifest.json: the initial state from
    /// init.onnx, a batch, and the state outputs fed back; the eval graph takes the new state.
    /// </summary>
    [Test]
    public void Artifacts_train_one_step_driven_only_by_the_manifest()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("artifacts", "--model", Fixtures.Model("fmnist_cnn_bn.onnx"), "--out", dir["art"], "--optimizer", "sgd", "--quiet");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        using var manifest = JsonDocument.Parse(File.ReadAllText(dir["art/manifest.json"]));
        var root = manifest.RootElement;
        var training = root.GetProperty("training");
        var inputs = training.GetProperty("inputs");
        var state = training.GetProperty("state").EnumerateArray().ToList();

        using var init = new InferenceSession(dir["art/" + root.GetProperty("files").GetProperty("init").GetString()]);
        using var runOptions = new RunOptions();
        using var initial = init.Run(runOptions, [], [], init.OutputNames.ToList());
        var current = init.OutputNames.Select((name, i) => (name, values: initial[i].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(p => p.name, p => p.values);
        Assert.That(current.Keys, Is.EquivalentTo(state.Select(s => s.GetProperty("input").GetString())));

        using var step = new InferenceSession(dir["art/" + root.GetProperty("files").GetProperty("training").GetString()]);
        var x = new float[4 * 784];
        for (var i = 0; i < x.Length; i++) x[i] = (i % 97) / 97f - 0.5f;
        var feeds = new Dictionary<string, OrtValue>
        {
            [inputs.GetProperty("batch").GetProperty("name").GetString()!] = OrtValue.CreateTensorValueFromMemory(x, [4, 1, 28, 28]),
            [inputs.GetProperty("labels").GetProperty("name").GetString()!] = OrtValue.CreateTensorValueFromMemory(new long[] { 0, 1, 2, 3 }, [4]),
            [inputs.GetProperty("learning_rate").GetProperty("name").GetString()!] = OrtValue.CreateTensorValueFromMemory(new[] { 0.01f }, []),
            [inputs.GetProperty("step").GetProperty("name").GetString()!] = OrtValue.CreateTensorValueFromMemory(new[] { 1f }, []),
        };
        foreach (var s in state)
            feeds[s.GetProperty("input").GetString()!] = OrtValue.CreateTensorValueFromMemory(current[s.GetProperty("input").GetString()!],
                s.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray());
        var outputs = state.Select(s => s.GetProperty("output").GetString()!).Prepend(training.GetProperty("outputs").GetProperty("loss").GetString()!).ToList();
        using var stepped = step.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), outputs);
        var loss = stepped[0].GetTensorDataAsSpan<float>()[0];
        Assert.That(float.IsFinite(loss) && loss > 0, $"loss {loss}");
        var next = state.Select((s, i) => (s.GetProperty("input").GetString()!, stepped[i + 1].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(p => p.Item1, p => p.Item2);
        Assert.That(next["fc.weight"], Is.Not.EqualTo(current["fc.weight"]), "SGD moved the weights");
        foreach (var v in feeds.Values) v.Dispose();

        using var eval = new InferenceSession(dir["art/" + root.GetProperty("files").GetProperty("eval").GetString()]);
        var evalFeeds = new Dictionary<string, OrtValue> { ["input"] = OrtValue.CreateTensorValueFromMemory(x, [4, 1, 28, 28]) };
        foreach (var name in root.GetProperty("eval").GetProperty("state_inputs").EnumerateArray().Select(e => e.GetString()!))
        {
            var dims = state.First(s => s.GetProperty("initializer").GetString() == name).GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            evalFeeds[name] = OrtValue.CreateTensorValueFromMemory(next[name], dims);
        }
        using var logits = eval.Run(runOptions, evalFeeds.Keys.ToList(), evalFeeds.Values.ToList(), ["logits"]);
        Assert.That(logits[0].GetTensorTypeAndShape().Shape, Is.EqualTo(new long[] { 4, 10 }));
        foreach (var v in evalFeeds.Values) v.Dispose();
    }
}
