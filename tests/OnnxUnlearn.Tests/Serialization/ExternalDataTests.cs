using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using OnnxUnlearn.Data.Npy;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Serialization;

/// <summary>Models whose weights live in an external data file: load, round-trip, same layout, and
/// the source's data file is never written.</summary>
public sealed class ExternalDataTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>
    /// Writes <paramref name="model"/> as <paramref name="modelName"/> with every initializer of at
    /// least 32 bytes in <paramref name="dataName"/>, in reverse order at 64-byte-aligned offsets
    /// after a 100-byte header (so a layout change would show).
    /// </summary>
    internal static string WriteExternal(Model model, string folder, string modelName, string dataName)
    {
        var proto = model.ToProto();
        using var data = new MemoryStream();
        data.Write(new byte[100]);
        foreach (var tensor in proto.Graph.Initializer.Reverse().Where(t => t.RawData.Length >= 32))
        {
            var offset = (data.Length + 63) / 64 * 64;
            data.SetLength(offset);
            data.Position = offset;
            data.Write(tensor.RawData.Span);
            var length = tensor.RawData.Length;
            tensor.RawData = ByteString.Empty;
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        }
        File.WriteAllBytes(Path.Combine(folder, dataName), data.ToArray());
        var path = Path.Combine(folder, modelName);
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    [Test]
    public void ExternalModelLoadsWithTheSameWeights()
    {
        var reference = TestModels.Cnn();
        var path = WriteExternal(TestModels.Cnn(), _dir.Root, "cnn.onnx", "weights.bin");
        var model = ModelFile.Load(path);
        var external = model.Graph.Initializers.Where(v => v.Initializer!.IsExternal).ToList();
        Assert.That(external, Has.Count.GreaterThanOrEqualTo(2));
        foreach (var value in model.Graph.Initializers)
            Assert.That(value.Initializer!.ToFloatArray(), Is.EqualTo(reference.Graph[value.Name].Initializer!.ToFloatArray()), value.Name);
    }

    [Test]
    public void ExternalModelRoundTripsWithTheSameLayoutAndLeavesTheSourceAlone()
    {
        var source = WriteExternal(TestModels.Cnn(), _dir.Root, "cnn.onnx", "weights.bin");
        var sourceData = _dir["weights.bin"];
        var hashBefore = SHA256.HashData(File.ReadAllBytes(sourceData));
        var timeBefore = File.GetLastWriteTimeUtc(sourceData);
        var outFolder = Directory.CreateDirectory(_dir["out"]).FullName;
        var output = Path.Combine(outFolder, "copy.onnx");

        var model = ModelFile.Load(source);
        var written = ModelFile.Save(model.ToProto(), output, _dir.Root);

        Assert.That(written.Select(Path.GetFileName), Is.EquivalentTo(new[] { "copy.onnx", "copy.onnx.data" }));
        Assert.That(Directory.GetFiles(outFolder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "copy.onnx", "copy.onnx.data" }), "no temp file left");
        Assert.That(SHA256.HashData(File.ReadAllBytes(sourceData)), Is.EqualTo(hashBefore), "the source's data file changed");
        Assert.That(File.GetLastWriteTimeUtc(sourceData), Is.EqualTo(timeBefore));

        var before = ModelFile.LoadProto(source).Graph.Initializer;
        var after = ModelFile.LoadProto(output).Graph.Initializer;
        Assert.That(after.Select(t => t.Name), Is.EqualTo(before.Select(t => t.Name)));
        for (var i = 0; i < before.Count; i++)
        {
            Assert.That(after[i].DataLocation, Is.EqualTo(before[i].DataLocation), before[i].Name);
            if (before[i].DataLocation != TensorProto.Types.DataLocation.External) continue;
            var (location, offset, length) = ExternalDataInfo.Of(after[i]);
            var (_, offset0, length0) = ExternalDataInfo.Of(before[i]);
            Assert.That(location, Is.EqualTo("copy.onnx.data"));
            Assert.That((offset, length), Is.EqualTo((offset0, length0)), $"'{before[i].Name}' moved in the data file");
        }
        Assert.That(File.ReadAllBytes(Path.Combine(outFolder, "copy.onnx.data")).Skip(100), Is.EqualTo(File.ReadAllBytes(sourceData).Skip(100)),
            "the data file's tensor region is not the same bytes");

        var inputs = TestModels.RandomInputs(ModelFile.LoadProto(source), 3);
        Assert.That(TestModels.RunFile(output, inputs)["logits"], Is.EqualTo(TestModels.RunFile(source, inputs)["logits"]));
    }

    [Test]
    public void WritingBesideTheSourceNeverOverwritesItsDataFile()
    {
        // The source's data file has the name the output's data file would get by default.
        var source = WriteExternal(TestModels.Cnn(), _dir.Root, "cnn.onnx", "copy.onnx.data");
        var sourceData = _dir["copy.onnx.data"];
        var hashBefore = SHA256.HashData(File.ReadAllBytes(sourceData));
        var timeBefore = File.GetLastWriteTimeUtc(sourceData);

        var written = ModelFile.Save(ModelFile.Load(source).ToProto(), _dir["copy.onnx"], _dir.Root);

        Assert.That(written.Select(Path.GetFullPath), Does.Not.Contain(Path.GetFullPath(sourceData)));
        Assert.That(SHA256.HashData(File.ReadAllBytes(sourceData)), Is.EqualTo(hashBefore));
        Assert.That(File.GetLastWriteTimeUtc(sourceData), Is.EqualTo(timeBefore));
        var inputs = TestModels.RandomInputs(ModelFile.LoadProto(source), 2);
        Assert.That(TestModels.RunFile(_dir["copy.onnx"], inputs)["logits"], Is.EqualTo(TestModels.RunFile(source, inputs)["logits"]));
    }

    [Test]
    public void RoundTripHelperAcceptsExternalModels()
    {
        var source = WriteExternal(TestModels.Mlp(hidden: 16), _dir.Root, "mlp.onnx", "mlp.weights");
        var model = ModelFile.Load(source);
        var output = _dir["again.onnx"];
        ModelFile.Save(model.ToProto(), output, _dir.Root);
        var inputs = TestModels.RandomInputs(ModelFile.LoadProto(source), 4);
        Assert.That(TestModels.RunFile(output, inputs)["logits"], Is.EqualTo(TestModels.RunFile(source, inputs)["logits"]));
    }

    /// <summary>forget through the CLI on a model whose weights are external: the output's trained
    /// weights are in its own data file at the source's offsets, and the source is left alone.</summary>
    [Test]
    public void ForgetKeepsExternalData()
    {
        var source = WriteExternal(TestModels.Cnn(), _dir.Root, "cnn.onnx", "weights.bin");
        var hashBefore = SHA256.HashData(File.ReadAllBytes(_dir["weights.bin"]));
        const int count = 48;
        var random = new Random(3);
        var x = Enumerable.Range(0, count * 64).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using (var stream = File.Create(_dir["data.npz"]))
            NpzWriter.Write(stream, [("x", [count, 1, 8, 8], x), ("y", [count], Enumerable.Range(0, count).Select(i => (long)(i % 3)).ToArray())]);
        var outFolder = Directory.CreateDirectory(_dir["out"]).FullName;

        var result = CliRunner.Run("forget", "--model", source, "--data", _dir["data.npz"], "--classes", "1", "--out", Path.Combine(outFolder, "forgot.onnx"),
            "--noise-steps", "2", "--noise-batch", "16", "--min-noise-per-class", "8", "--noise-copies", "1", "--retain-per-class", "8",
            "--batch", "16", "--max-rounds", "1", "--threads", "1", "--quiet");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(Directory.GetFiles(outFolder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "forgot.onnx", "forgot.onnx.data" }));
        Assert.That(SHA256.HashData(File.ReadAllBytes(_dir["weights.bin"])), Is.EqualTo(hashBefore), "the source's data file changed");
        var before = ModelFile.LoadProto(source).Graph.Initializer;
        var after = ModelFile.LoadProto(Path.Combine(outFolder, "forgot.onnx")).Graph.Initializer;
        for (var i = 0; i < before.Count; i++)
        {
            Assert.That(after[i].DataLocation, Is.EqualTo(before[i].DataLocation), before[i].Name);
            if (before[i].DataLocation != TensorProto.Types.DataLocation.External) continue;
            Assert.That(ExternalDataInfo.Of(after[i]), Is.EqualTo(ExternalDataInfo.Of(before[i]) with { Location = "forgot.onnx.data" }), before[i].Name);
        }
        var trained = Model.FromProto(ModelFile.LoadProto(Path.Combine(outFolder, "forgot.onnx")), Path.Combine(outFolder, "forgot.onnx")).Graph["fc.weight"].Initializer!;
        Assert.That(trained.IsExternal, Is.True);
        Assert.That(trained.ToFloatArray(), Is.Not.EqualTo(ModelFile.Load(source).Graph["fc.weight"].Initializer!.ToFloatArray()), "trained weights written");
        var inputs = TestModels.RandomInputs(ModelFile.LoadProto(source), 2);
        Assert.That(TestModels.RunFile(Path.Combine(outFolder, "forgot.onnx"), inputs)["logits"], Has.Length.EqualTo(2 * 3 * sizeof(float)));
    }

    [Test]
    public void MissingExternalDataFileIsAUserErrorNamingIt()
    {
        var source = WriteExternal(TestModels.Mlp(hidden: 16), _dir.Root, "mlp.onnx", "gone.bin");
        File.Delete(_dir["gone.bin"]);
        var model = ModelFile.Load(source);
        var e = Assert.Throws<UserInputException>(() => model.Graph["fc1.weight"].Initializer!.ToFloatArray());
        Assert.That(e!.Message, Does.Contain("gone.bin"));
        Assert.Throws<UserInputException>(() => ModelFile.Save(model.ToProto(), _dir["out.onnx"], _dir.Root));
        Assert.That(_dir.Files(), Is.EquivalentTo(new[] { "mlp.onnx" }), "nothing written");
    }

    [Test]
    public void LargeModelsGetExternalDataPlanned()
    {
        var proto = TestModels.Mlp(hidden: 64).ToProto();
        var layout = ExternalLayout.Plan(proto, _dir["big.onnx"], threshold: 1000, minTensorBytes: 256);
        var moved = layout.Rewritten.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.That(moved.Select(t => t.Name), Is.EquivalentTo(new[] { "fc1.weight", "fc1.bias", "fc2.weight" }));
        Assert.That(moved.All(t => t.RawData.IsEmpty));
        Assert.That(layout.Files.Keys.Select(Path.GetFileName), Is.EqualTo(new[] { "big.onnx.data" }));
        Assert.That(layout.Files.Values.Single().Select(e => e.Offset % 4096), Is.All.EqualTo(0));
    }
}
