using System.Runtime.InteropServices;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Cli;
using OnnxUnlearn.Tests.Ir;
using OnnxUnlearn.Training;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Tests.Serialization;

/// <summary>
/// Trained values written from their arrays into the external data file, in pieces, without a
/// protobuf ByteString (how export handles tensors of 2 GiB or more; here with small pieces).
/// </summary>
public sealed class StreamedExternalDataTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>Every bit pattern kind: signed zeros, infinities, NaN with payload, subnormals, normals.</summary>
    private static float[] Values(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = BitConverter.Int32BitsToSingle(random.Next(int.MinValue, int.MaxValue));
        float[] special = [-0f, float.PositiveInfinity, float.NegativeInfinity, BitConverter.Int32BitsToSingle(0x7fc01234), 1e-42f];
        special.AsSpan(0, Math.Min(special.Length, count)).CopyTo(values);
        return values;
    }

    private static int[] Bits(float[] values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    /// <summary>Records each write, so the pieces show.</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public List<int> Writes { get; } = [];

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Writes.Add(buffer.Length);
            base.Write(buffer);
        }
    }

    [TestCase(DataType.Float, 4)]
    [TestCase(DataType.Float16, 2)]
    [TestCase(DataType.Double, 8)]
    [TestCase(DataType.Bfloat16, 2)]
    public void ValuesAreWrittenInPiecesAsTheSameBytesAsRawData(DataType type, int size)
    {
        var values = Values(10, seed: (int)type);
        var inline = new TensorProto { Name = "w", DataType = (int)type, Dims = { 10 } };
        ModelExporter.SetValues(inline, values);

        using var stream = new RecordingStream();
        TensorBytes.Of(values, type).WriteTo(stream, pieceElements: 3);

        Assert.That(stream.Writes, Is.EqualTo(new[] { 3 * size, 3 * size, 3 * size, size }));
        Assert.That(stream.ToArray(), Is.EqualTo(inline.RawData.ToByteArray()));
        Assert.That(TensorBytes.Of(values, type).Length, Is.EqualTo(10 * size));
    }

    /// <summary>
    /// An external model exported with trained values: each tensor stays at its offset, its bytes are
    /// the array's bit for bit (written in pieces of 5 elements), and the files are the same bytes as
    /// when the values go through raw_data.
    /// </summary>
    [Test]
    public void ExternalTensorWrittenFromAnArrayRoundTripsBitForBit()
    {
        var source = ExternalDataTests.WriteExternal(TestModels.Mlp(hidden: 16), _dir.Root, "mlp.onnx", "weights.bin");
        var original = ModelFile.LoadProto(source);
        var trained = original.Graph.Initializer.Select((t, i) => (t.Name, Values: Values((int)t.Dims.Aggregate(1L, (a, b) => a * b), seed: 10 + i)))
            .ToDictionary(e => e.Name, e => e.Values);

        var export = ModelExporter.ForExport(original, trained);
        var external = original.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).Select(t => t.Name).ToList();
        Assert.That(external, Has.Count.GreaterThanOrEqualTo(2));
        Assert.That(export.Streamed.Keys, Is.EquivalentTo(external), "external tensors are streamed, inline ones are not");
        Assert.That(export.Proto.Graph.Initializer.Where(t => external.Contains(t.Name)).All(t => t.RawData.IsEmpty), "no ByteString for streamed tensors");

        var outFolder = Directory.CreateDirectory(_dir["streamed"]).FullName;
        var output = Path.Combine(outFolder, "out.onnx");
        ModelFile.Save(export.Proto, output, _dir.Root, export.Streamed, pieceElements: 5);

        var data = File.ReadAllBytes(Path.Combine(outFolder, "out.onnx.data"));
        var written = ModelFile.LoadProto(output);
        foreach (var name in external)
        {
            var (location, offset, length) = ExternalDataInfo.Of(written.Graph.Initializer.Single(t => t.Name == name));
            var (_, offset0, length0) = ExternalDataInfo.Of(original.Graph.Initializer.Single(t => t.Name == name));
            Assert.That((location, offset, length), Is.EqualTo(("out.onnx.data", offset0, length0)), name);
            Assert.That(data.AsSpan((int)offset, (int)length!).ToArray(), Is.EqualTo(MemoryMarshal.AsBytes(trained[name].AsSpan()).ToArray()), name);
        }
        var reloaded = ModelFile.Load(output);
        foreach (var (name, values) in trained)
            Assert.That(Bits(reloaded.Graph[name].Initializer!.ToFloatArray()), Is.EqualTo(Bits(values)), name);

        // The same files as through raw_data (the path small tensors take).
        var viaRawData = Directory.CreateDirectory(_dir["raw"]).FullName;
        ModelFile.Save(ModelExporter.WithInitializers(original, trained), Path.Combine(viaRawData, "out.onnx"), _dir.Root);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(Path.Combine(viaRawData, "out.onnx"))));
        Assert.That(data, Is.EqualTo(File.ReadAllBytes(Path.Combine(viaRawData, "out.onnx.data"))));
        Assert.That(Directory.GetFiles(outFolder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "out.onnx", "out.onnx.data" }), "no temp file left");
    }

    /// <summary>Inline models keep the raw_data path: ForExport writes the same file as WithInitializers.</summary>
    [Test]
    public void InlineModelsExportTheSameBytesAsBefore()
    {
        var path = _dir["cnn.onnx"];
        ModelFile.Save(TestModels.Cnn().ToProto(), path);
        var original = ModelFile.LoadProto(path);
        var trained = original.Graph.Initializer.Select((t, i) => (t.Name, Values: Values((int)t.Dims.Aggregate(1L, (a, b) => a * b), seed: 30 + i)))
            .ToDictionary(e => e.Name, e => e.Values);
        var export = ModelExporter.ForExport(original, trained);
        Assert.That(export.Streamed, Is.Empty);
        ModelExporter.Write(export, path, _dir["a.onnx"]);
        ModelFile.Save(ModelExporter.WithInitializers(original, trained), _dir["b.onnx"]);
        Assert.That(File.ReadAllBytes(_dir["a.onnx"]), Is.EqualTo(File.ReadAllBytes(_dir["b.onnx"])));
        Assert.That(_dir.Files(), Is.EquivalentTo(new[] { "cnn.onnx", "a.onnx", "b.onnx" }));
    }

    /// <summary>An inline tensor handed over as values (too large for a protobuf field) goes to a new
    /// data file with the model's other large initializers, written from its array, whatever the model's size.</summary>
    [Test]
    public void InlineTensorGivenAsValuesIsPlannedExternal()
    {
        var proto = TestModels.Mlp(hidden: 64).ToProto();
        var fc1 = proto.Graph.Initializer.Single(t => t.Name == "fc1.weight");
        var values = Values(fc1.RawData.Length / 4, seed: 5);
        fc1.RawData = Google.Protobuf.ByteString.Empty;
        var layout = ExternalLayout.Plan(proto, _dir["big.onnx"], ModelFile.ExternalDataThreshold, minTensorBytes: 256, values: new Dictionary<string, float[]> { ["fc1.weight"] = values });

        var entry = layout.Files.Values.Single().Single(e => e.Tensor.Name == "fc1.weight");
        Assert.That(entry.Tensor.DataLocation, Is.EqualTo(TensorProto.Types.DataLocation.External));
        Assert.That(ExternalDataInfo.Of(entry.Tensor).Length, Is.EqualTo(values.Length * 4L));
        using var stream = new MemoryStream();
        entry.Data.WriteTo(stream, pieceElements: 7);
        Assert.That(stream.ToArray(), Is.EqualTo(MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
    }
}
