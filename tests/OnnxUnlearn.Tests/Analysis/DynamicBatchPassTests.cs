using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Tests.Ir;
using OnnxUnlearn.Training;

namespace OnnxUnlearn.Tests.Analysis;

/// <summary>
/// <see cref="DynamicBatchPass"/> on small graphs with the batch written in the way exporters do it:
/// a Reshape target from a Constant node, a class token expanded to a shape computed from
/// constants, and with a fixed batch of 1 a broadcast 1 that must be left alone.
/// </summary>
[TestFixture]
public class DynamicBatchPassTests
{
    private const int Classes = 3;

    [TestCase(1)]
    [TestCase(4)]
    public void A_reshape_target_follows_the_batch_and_a_broadcast_one_stays(int batch)
    {
        // x [B, 2, 3] → Reshape [B, 6] (Constant node) + Reshape(pos [6], [1, 6]) → MatMul → [B, 3]
        var graph = new Graph("reshape");
        var random = new Random(1);
        var x = graph.AddInput("x", TensorTypes.Float(batch, 2, 3));
        var target = Constant(graph, batch, 6);
        var flat = graph.AddNode("Reshape", [x, target], name: "flatten").Outputs[0];
        var pos = graph.AddInitializer(TestModels.Floats("pos", random, 6));
        var posTarget = graph.AddInitializer(TensorData.FromInt64s("pos_shape", [2], [1, 6]));
        var embedded = graph.AddNode("Add", [flat, graph.AddNode("Reshape", [pos, posTarget], name: "pos_reshape").Outputs[0]]).Outputs[0];
        var trainable = Run(graph, embedded, random, width: 6, batch);

        var nodes = trainable.Model.Graph.Nodes;
        Assert.That(nodes.Single(n => n.Name == "flatten").Inputs[1]!.Producer!.OpType, Is.EqualTo("Concat"),
            "the target is rebuilt from the input's batch");
        Assert.That(nodes.Single(n => n.Name == "pos_reshape").Inputs[1]!.Name, Is.EqualTo("pos_shape"), "the position embedding keeps its 1");
        Assert.That(trainable.Shapes[flat.Name].Dims, Is.EqualTo(new long[] { -1, 6 }));
        Assert.That(() => TrainingGraphBuilder.Build(trainable.Model, trainable.Shapes, new TrainingGraphOptions()), Throws.Nothing);
    }

    [TestCase(1)]
    [TestCase(4)]
    public void A_class_token_is_expanded_to_the_batch(int batch)
    {
        // Concat(Expand(cls [1, 1, 3], Concat([B], [1, 3])), x [B, 2, 3], axis 1) → Flatten → MatMul → [B, 3]
        var graph = new Graph("token");
        var random = new Random(2);
        var x = graph.AddInput("x", TensorTypes.Float(batch, 2, 3));
        var cls = graph.AddInitializer(TestModels.Floats("cls", random, 1, 1, 3));
        var shape = graph.AddNode("Concat", [Constant(graph, batch), Constant(graph, 1, 3)], attributes: [Attr.Int("axis", 0)]).Outputs[0];
        var tokens = graph.AddNode("Expand", [cls, shape], name: "expand").Outputs[0];
        var joined = graph.AddNode("Concat", [tokens, x], attributes: [Attr.Int("axis", 1)]).Outputs[0];
        var flat = graph.AddNode("Flatten", [joined], attributes: [Attr.Int("axis", 1)]).Outputs[0];
        var trainable = Run(graph, flat, random, width: 9, batch);

        Assert.That(trainable.Model.Graph.Nodes.Single(n => n.Name == "expand").Inputs[1]!.Producer!.Inputs[0]!.Producer!.OpType, Is.EqualTo("Gather"),
            "the expanded shape starts with the input's batch");
        Assert.That(trainable.Shapes[tokens.Name].Dims, Is.EqualTo(new long[] { -1, 1, 3 }));
    }

    [Test]
    public void A_batch_the_pass_cannot_rebuild_is_refused_in_one_line()
    {
        // x [4, 3] → Reshape [12] → Reshape [4, 3]: the first target is the whole batch flattened.
        var graph = new Graph("flattened");
        var x = graph.AddInput("x", TensorTypes.Float(4, 3));
        var whole = graph.AddNode("Reshape", [x, Constant(graph, 12)]).Outputs[0];
        var back = graph.AddNode("Reshape", [whole, Constant(graph, 4, 3)]).Outputs[0];
        AssertRefused(graph, back, "ONNX Runtime: ");
    }

    [Test]
    public void A_model_that_mixes_the_samples_of_a_batch_is_refused()
    {
        // x − mean over the batch runs at every batch size, but a sample's output depends on the others.
        var graph = new Graph("centred");
        var x = graph.AddInput("x", TensorTypes.Float(4, 3));
        var mean = graph.AddNode("ReduceMean", [x], attributes: [Attr.Ints("axes", [0]), Attr.Int("keepdims", 1)]).Outputs[0];
        var centred = graph.AddNode("Sub", [x, mean]).Outputs[0];
        AssertRefused(graph, centred, "at batch size 5 a sample's output differs from its output at 4");
    }

    private static void AssertRefused(Graph graph, Value hidden, string reason)
    {
        var model = Classifier(graph, hidden, new Random(3), width: 3, batch: 4);
        Assert.That(() => DynamicBatchPass.Run(model, ClassifierInfo.Analyze(model, "fixed.onnx")),
            Throws.TypeOf<UserInputException>().With.Message.StartsWith("model: input 'x' has a fixed batch size of 4 that cannot be made dynamic for training (")
                .And.Message.Contains(reason)
                .And.Message.EndsWith("re-export the model with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={'x': {0: 'N'}, ...}))")
                .And.Message.Not.Contains("\n"));
    }

    /// <summary>Closes the graph with a MatMul head and runs the pass; the input and output must become dynamic.
    /// The model has no path, so messages name it "model".</summary>
    private static TrainableModel Run(Graph graph, Value hidden, Random random, int width, int batch)
    {
        var model = Classifier(graph, hidden, random, width, batch);
        var info = ClassifierInfo.Analyze(model, "fixed.onnx");
        Assert.That(info.FixedBatch, Is.EqualTo(batch));
        var trainable = DynamicBatchPass.Run(model, info);
        Assert.That(trainable.Info.FixedBatch, Is.Null);
        Assert.That(trainable.Shapes["logits"].Dims, Is.EqualTo(new long[] { -1, Classes }));
        return trainable;
    }

    private static Model Classifier(Graph graph, Value hidden, Random random, int width, int batch)
    {
        var weight = graph.AddInitializer(TestModels.Floats("w", random, width, Classes));
        var logits = graph.AddNode("MatMul", [hidden, weight], outputNames: ["logits"]).Outputs[0];
        logits.Type = TensorTypes.Float(batch, Classes);
        graph.Outputs.Add(logits);
        return new Model(TestModels.Header(), graph);
    }

    /// <summary>A Constant node holding a 1-D int64 tensor, as exporters write shape targets.</summary>
    private static Value Constant(Graph graph, params long[] values) =>
        graph.AddNode("Constant", [], attributes: [Attr.Tensor("value", TensorData.FromInt64s("value", [values.Length], values).Proto)]).Outputs[0];
}
