using Google.Protobuf;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Tests.Ir;

/// <summary>
/// Read → write keeps a model exactly: ONNX Runtime gives bit-identical outputs on the same inputs,
/// initializers are byte-identical, and what the IR does not model (unknown fields, functions,
/// subgraphs, metadata, doc strings) survives.
/// </summary>
public sealed class RoundTripTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    public static IEnumerable<TestCaseData> SampleModels()
    {
        var found = TestModels.SampleModels().ToList();
        foreach (var path in found)
            yield return new TestCaseData(path).SetName($"RoundTrip_SampleModel({Path.GetFileName(path)})");
        if (found.Count == 0)
            yield return new TestCaseData("").SetName("RoundTrip_SampleModel(none committed yet)");
    }

    [TestCaseSource(nameof(SampleModels))]
    public void SampleModelRoundTripsBitIdentical(string path)
    {
        if (path.Length == 0)
            Assert.Ignore("models/ holds no .onnx file yet");
        AssertRoundTrip(path, batch: 4);
    }

    [Test]
    public void BuiltModelsRoundTripBitIdentical()
    {
        var models = new (string Name, Model Model)[]
        {
            ("mlp", TestModels.Mlp()),
            ("mlp_softmax", TestModels.Mlp(softmax: true)),
            ("cnn_bn", TestModels.Cnn()),
            ("cnn_rgb", TestModels.Cnn(channels: 3, batchNorm: false)),
        };
        foreach (var (name, model) in models)
            AssertRoundTrip(TestModels.Save(model, _dir[name + ".onnx"]), batch: 3);
    }

    [Test]
    public void UnknownFieldsFunctionsSubgraphsAndMetadataSurvive()
    {
        var proto = TestModels.Mlp().ToProto();
        proto.DocString = "a doc string";
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "tests" });
        proto.Graph.Node[0].DocString = "first node";
        var function = new FunctionProto { Name = "MyFn", Domain = "custom" };
        function.Input.Add("a");
        function.Output.Add("b");
        function.Node.Add(new NodeProto { OpType = "Identity", Input = { "a" }, Output = { "b" } });
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = TestModels.Opset });
        proto.Functions.Add(function);
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        // An If node whose branches read an outer value (a subgraph).
        var thenBranch = new GraphProto { Name = "then" };
        thenBranch.Node.Add(new NodeProto { OpType = "Identity", Input = { "logits" }, Output = { "then_out" } });
        thenBranch.Output.Add(new ValueInfoProto { Name = "then_out" });
        var elseBranch = new GraphProto { Name = "else" };
        elseBranch.Node.Add(new NodeProto { OpType = "Neg", Input = { "logits" }, Output = { "else_out" } });
        elseBranch.Output.Add(new ValueInfoProto { Name = "else_out" });
        proto.Graph.Initializer.Add(new TensorProto { Name = "cond", DataType = (int)TensorProto.Types.DataType.Bool, Int32Data = { 1 } });
        proto.Graph.Node.Add(new NodeProto
        {
            Name = "if",
            OpType = "If",
            Input = { "cond" },
            Output = { "if_out" },
            Attribute =
            {
                new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch },
                new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch },
            },
        });
        proto.Graph.Output.Add(new ValueInfoProto { Name = "if_out", Type = TensorTypes.Float(-1, 3) });

        // Unknown fields: field 99 of ModelProto and field 77 of the first node.
        proto.Graph.Node[0] = NodeProto.Parser.ParseFrom(WithUnknownField(proto.Graph.Node[0].ToByteArray(), 77, 5));
        var bytes = WithUnknownField(proto.ToByteArray(), 99, 42);
        var source = _dir["source.onnx"];
        File.WriteAllBytes(source, bytes);

        var model = ModelFile.Load(source);
        var output = _dir["copy.onnx"];
        ModelFile.Save(model.ToProto(), output);
        var written = File.ReadAllBytes(output);
        Assert.That(written, Is.EqualTo(bytes), "read → write changed the serialized bytes");
        AssertRoundTrip(source, batch: 2);
    }

    [Test]
    public void EditedInitializerIsWrittenAndOthersStayByteIdentical()
    {
        var source = TestModels.Save(TestModels.Mlp(), _dir["m.onnx"]);
        var model = ModelFile.Load(source);
        var bias = model.Graph["fc2.bias"];
        var original = ModelFile.LoadProto(source);
        var replaced = TensorData.FromFloats("fc2.bias", [3], [1f, 2f, 3f]);
        bias.ReplaceAllUsesWith(model.Graph.AddInitializer(replaced, "fc2.bias.new"));
        model.Graph.RemoveDeadNodes();
        var output = _dir["edited.onnx"];
        ModelFile.Save(model.ToProto(), output);
        var reread = ModelFile.LoadProto(output);
        foreach (var init in original.Graph.Initializer.Where(i => i.Name != "fc2.bias"))
            Assert.That(reread.Graph.Initializer.Single(i => i.Name == init.Name).ToByteArray(), Is.EqualTo(init.ToByteArray()), init.Name);
        Assert.That(reread.Graph.Initializer.Any(i => i.Name == "fc2.bias"), Is.False, "the replaced initializer is dead and removed");
        Assert.That(new TensorData(reread.Graph.Initializer.Single(i => i.Name == "fc2.bias.new")).ToFloatArray(), Is.EqualTo(new[] { 1f, 2f, 3f }));
    }

    /// <summary>Loads, writes to a new file, and compares initializers, the whole proto, and ORT outputs.</summary>
    internal void AssertRoundTrip(string source, int batch)
    {
        var original = ModelFile.LoadProto(source);
        var model = ModelFile.Load(source);
        var output = _dir[$"roundtrip-{Guid.NewGuid():N}.onnx"];
        ModelFile.Save(model.ToProto(), output, Path.GetDirectoryName(Path.GetFullPath(source)));
        var reread = ModelFile.LoadProto(output);

        Assert.That(reread.Graph.Initializer.Count, Is.EqualTo(original.Graph.Initializer.Count));
        for (var i = 0; i < original.Graph.Initializer.Count; i++)
        {
            var a = new TensorData(original.Graph.Initializer[i], Path.GetDirectoryName(Path.GetFullPath(source)));
            var b = new TensorData(reread.Graph.Initializer[i], Path.GetDirectoryName(Path.GetFullPath(output)));
            Assert.That(b.Name, Is.EqualTo(a.Name));
            Assert.That(RawOf(b), Is.EqualTo(RawOf(a)), $"initializer '{a.Name}' changed");
        }
        if (!original.Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External))
            Assert.That(reread, Is.EqualTo(original), "the written ModelProto differs from the one read");

        var inputs = TestModels.RandomInputs(original, batch);
        var expected = TestModels.RunFile(source, inputs);
        var actual = TestModels.RunFile(output, inputs);
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, bytes) in expected)
            Assert.That(actual[name], Is.EqualTo(bytes), $"output '{name}' is not bit-identical");
    }

    private static byte[] RawOf(TensorData t) =>
        t.IsExternal || t.Proto.RawData.Length > 0
            ? t.RawBytes(t.IsExternal ? checked((int)ExternalLength(t.Proto)) : t.Proto.RawData.Length).ToArray()
            : t.Proto.ToByteArray();

    private static long ExternalLength(TensorProto t) => ExternalDataInfo.Of(t).Length ?? throw new InvalidOperationException("no length");

    /// <summary>Appends a varint field the schema does not know.</summary>
    internal static byte[] WithUnknownField(byte[] message, int fieldNumber, ulong value)
    {
        using var stream = new MemoryStream();
        stream.Write(message);
        var output = new CodedOutputStream(stream);
        output.WriteTag(fieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(value);
        output.Flush();
        return stream.ToArray();
    }
}
