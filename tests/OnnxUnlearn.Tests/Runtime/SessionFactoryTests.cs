using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Runtime;

public sealed class SessionFactoryTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>y = x + w, w a float32 [4] initializer, external (zeros in w.bin) or inline (zeros).</summary>
    private ModelProto AddModel(bool external)
    {
        var w = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 4 } };
        if (external)
        {
            File.WriteAllBytes(_dir["w.bin"], new byte[16]);
            w.DataLocation = TensorProto.Types.DataLocation.External;
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w.bin" });
        }
        else
            w.FloatData.Add(new float[4]);
        var type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 4 } } } } };
        var graph = new GraphProto { Name = "add", Node = { new NodeProto { OpType = "Add", Input = { "x", "w" }, Output = { "y" }, Name = "add" } } };
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = type });
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = type });
        graph.Initializer.Add(w);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static float[] Run(InferenceSession session)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(new float[4], [4]);
        using var outputs = session.Run(new RunOptions(), ["x"], [x], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Test]
    public void ExternalWeightsAreReadFromTheCallersArrayWithoutACopy()
    {
        var model = AddModel(external: true);
        var weights = new float[] { 1, 2, 3, 4 };
        using var session = SessionFactory.Create(model, Device.Cpu(1), _dir.Root, new Dictionary<string, float[]> { ["w"] = weights });
        Assert.That(session, Is.InstanceOf<SharedWeightsSession>());
        Assert.That(Run(session), Is.EqualTo(new float[] { 1, 2, 3, 4 }), "the array's values, not the file's zeros");
        // Changed after the session was made: only a session that reads this very memory sees it.
        weights[0] = 10;
        Assert.That(Run(session)[0], Is.EqualTo(10f));
        Assert.That(model.Graph.Initializer.Single().DataLocation, Is.EqualTo(TensorProto.Types.DataLocation.External), "the model is left as it was");
    }

    [Test]
    public void InlineWeightsAreCopiedIntoTheSession()
    {
        var model = AddModel(external: false);
        var weights = new float[] { 1, 2, 3, 4 };
        using var session = SessionFactory.Create(model, Device.Cpu(1), null, new Dictionary<string, float[]> { ["w"] = weights });
        Assert.That(session, Is.Not.InstanceOf<SharedWeightsSession>());
        weights[0] = 10;
        Assert.That(Run(session), Is.EqualTo(new float[] { 1, 2, 3, 4 }));
        Assert.That(model.Graph.Initializer.Single().FloatData, Is.EqualTo(new float[4]), "the model is left as it was");
    }
}
