using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Tests.Ir;
using OnnxUnlearn.Tests.Serialization;

namespace OnnxUnlearn.Tests.Analysis;

public sealed class ModelInspectorTests
{
    [Test]
    public void ReportsTheFactsOfACnn()
    {
        var report = ModelInspector.Inspect(TestModels.Cnn(channels: 1, size: 8, filters: 4, classes: 3), "cnn.onnx");

        Assert.That(report.IrVersion, Is.EqualTo(8));
        Assert.That(report.Opsets, Is.EqualTo(new[] { new OpsetSummary("", 17) }));
        Assert.That(report.ProducerName, Is.EqualTo("onnxunlearn-tests"));
        var input = report.Inputs.Single();
        Assert.That((input.Name, input.ElementType, input.FormatShape()), Is.EqualTo(("input", "float32", "[batch, 1, 8, 8]")));
        Assert.That(report.Outputs.Single().FormatShape(), Is.EqualTo("[batch, 3]"));
        Assert.That(report.Ops.Select(o => (o.QualifiedName, o.Count)), Is.EquivalentTo(new[]
        {
            ("Conv", 1), ("BatchNormalization", 1), ("Relu", 1), ("MaxPool", 1), ("Flatten", 1), ("Gemm", 1),
        }));
        long expected = 4 * 9 + 4 + 4 * 4 + 3 * 64 + 3;
        Assert.That(report.ParameterCount, Is.EqualTo(expected));
        Assert.That(report.ParameterBytes, Is.EqualTo(expected * 4));
        Assert.That(report.StatisticsCount, Is.EqualTo(8), "running mean and variance of 4 channels");
        Assert.That(report.ExternalData.Used, Is.False);
        Assert.That(report.InputLayout, Is.EqualTo("NCHW"));
        Assert.That(report.Classifier, Is.Not.Null);
        Assert.That(report.Classifier!.ClassCount, Is.EqualTo(3));
        Assert.That(report.Classifier.Head, Is.EqualTo(HeadKind.Logits));
        Assert.That(report.Classifier.Layout, Is.EqualTo(InputLayout.Nchw));
        Assert.That(report.NotClassifierReason, Is.Null);
        Assert.That(report.Trainability, Is.Not.Null);
        Assert.That(report.Trainability!.ParameterTensors, Is.EqualTo(8));
    }

    [Test]
    public void AnMlpIsTrainable()
    {
        var report = ModelInspector.Inspect(TestModels.Mlp(), "mlp.onnx");
        Assert.That(report.InputLayout, Is.EqualTo("flat"));
        Assert.That(report.Trainability!.Trainable, Is.True, string.Join("; ", report.Trainability.Blockers));
    }

    [Test]
    public void ASoftmaxHeadIsFoundBehindTheOutput()
    {
        var report = ModelInspector.Inspect(TestModels.Mlp(softmax: true), "mlp.onnx");
        Assert.That(report.Classifier!.Head, Is.EqualTo(HeadKind.Softmax));
        Assert.That(report.Classifier.OutputName, Is.EqualTo("probs"));
        Assert.That(report.Classifier.LogitsName, Is.Not.EqualTo("probs"));
    }

    [Test]
    public void NodesWithoutAGradientRuleAreListed()
    {
        var model = TestModels.Mlp();
        model.Header.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 3 });
        var graph = model.Graph;
        var relu = graph.Nodes.Single(n => n.OpType == "Relu");
        var custom = graph.AddNode("FancyRelu", [relu.Inputs[0]], name: "fancy", domain: "com.example").Outputs[0];
        relu.Outputs[0].ReplaceAllUsesWith(custom);
        graph.RemoveDeadNodes();
        graph.TopologicalSort();

        var report = ModelInspector.Inspect(model, "m.onnx");

        Assert.That(report.Trainability!.Trainable, Is.False);
        var blocker = report.Trainability.Blockers.Single();
        Assert.That((blocker.NodeName, blocker.Domain, blocker.OpType, blocker.Opset), Is.EqualTo(("fancy", "com.example", "FancyRelu", 3L)));
        Assert.That(blocker.Reason, Does.Contain("com.example"));
        Assert.That(report.Ops.Select(o => o.QualifiedName), Does.Contain("com.example.FancyRelu"));
    }

    [Test]
    public void AModelThatIsNotAClassifierStillGetsTheGenericFacts()
    {
        var model = TestModels.Mlp();
        model.Graph.AddInput("second", TensorTypes.Float(-1, 2));
        var report = ModelInspector.Inspect(model, "two.onnx");
        Assert.That(report.Classifier, Is.Null);
        Assert.That(report.Trainability, Is.Null);
        Assert.That(report.NotClassifierReason, Does.Contain("2 data inputs"));
        Assert.That(report.NotClassifierReason, Does.Not.StartWith("two.onnx"));
        Assert.That(report.Inputs, Has.Count.EqualTo(2));
        Assert.That(report.ParameterCount, Is.GreaterThan(0));
        Assert.That(report.InputLayout, Is.EqualTo("flat"));
    }

    [Test]
    public void ExternalDataIsReported()
    {
        using var dir = new TempDir();
        var path = ExternalDataTests.WriteExternal(TestModels.Cnn(), dir.Root, "cnn.onnx", "weights.bin");
        var report = ModelInspector.Inspect(ModelFile.Load(path), path);
        Assert.That(report.ExternalData.Used, Is.True);
        Assert.That(report.ExternalData.Files, Is.EqualTo(new[] { "weights.bin" }));
        Assert.That(report.ExternalData.TensorCount, Is.GreaterThanOrEqualTo(2));
        Assert.That(report.FileBytes, Is.EqualTo(new FileInfo(path).Length));
    }

    [Test]
    public void AnNhwcInputIsRecognised()
    {
        var graph = new Graph("nhwc");
        var x = graph.AddInput("image", TensorTypes.Float(-1, 8, 8, 3));
        var t = graph.AddNode("Transpose", [x], attributes: [Attr.Ints("perm", [0, 3, 1, 2])], name: "to_nchw").Outputs[0];
        var pooled = graph.AddNode("GlobalAveragePool", [t], name: "gap").Outputs[0];
        var flat = graph.AddNode("Flatten", [pooled], name: "flatten", outputNames: ["scores"]).Outputs[0];
        flat.Type = TensorTypes.Float(-1, 3);
        graph.Outputs.Add(flat);
        var report = ModelInspector.Inspect(new Model(TestModels.Header(), graph), "nhwc.onnx");
        Assert.That(report.InputLayout, Is.EqualTo("NHWC"));
        Assert.That(report.Classifier!.SampleDims, Is.EqualTo(new[] { 8, 8, 3 }));
    }
}
