using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Tests.Ir;

/// <summary>Topological sort and dead-node removal.</summary>
public sealed class GraphPassTests
{
    [Test]
    public void TopologicalSortOrdersShuffledNodes()
    {
        var model = TestModels.Cnn();
        var graph = model.Graph;
        var original = graph.Nodes.Select(n => n.Name).ToList();
        var shuffled = graph.Nodes.ToList();
        new Random(3).Shuffle(CollectionsMarshalSpan(shuffled));
        shuffled.Reverse();
        graph.Nodes.Clear();
        graph.Nodes.AddRange(shuffled);
        Assert.That(IsTopological(graph), Is.False, "the shuffle should break the order");

        graph.TopologicalSort();

        Assert.That(IsTopological(graph), Is.True);
        Assert.That(graph.Nodes.Select(n => n.Name), Is.EqualTo(original), "a chain has exactly one valid order");
    }

    [Test]
    public void TopologicalSortIsStableWhereTheOrderIsValid()
    {
        // Two independent branches a→b and c→d joined by e: listed a, c, b, d, e stays as it is.
        var graph = new Graph("g");
        var x = graph.AddInput("x", TensorTypes.Float(-1, 2));
        var a = graph.AddNode("Relu", [x], name: "a").Outputs[0];
        var c = graph.AddNode("Neg", [x], name: "c").Outputs[0];
        var b = graph.AddNode("Abs", [a], name: "b").Outputs[0];
        var d = graph.AddNode("Exp", [c], name: "d").Outputs[0];
        graph.Outputs.Add(graph.AddNode("Add", [b, d], name: "e").Outputs[0]);
        graph.TopologicalSort();
        Assert.That(graph.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "a", "c", "b", "d", "e" }));
    }

    [Test]
    public void TopologicalSortRejectsACycle()
    {
        var graph = new Graph("g");
        var x = graph.AddInput("x", TensorTypes.Float(-1, 2));
        var loopBack = graph.GetOrCreateValue("loop");
        var first = graph.AddNode("Add", [x, loopBack], name: "first").Outputs[0];
        graph.AddNode("Relu", [first], name: "second", outputNames: ["loop"]);
        graph.Outputs.Add(first);
        var e = Assert.Throws<UserInputException>(() => graph.TopologicalSort());
        Assert.That(e!.Message, Does.Contain("cycle"));
    }

    [Test]
    public void SortedGraphStillRunsIdentically()
    {
        using var dir = new TempDir();
        var model = TestModels.Cnn();
        var expectedPath = TestModels.Save(model, dir["a.onnx"]);
        model.Graph.Nodes.Reverse();
        model.Graph.TopologicalSort();
        var sortedPath = TestModels.Save(model, dir["b.onnx"]);
        var inputs = TestModels.RandomInputs(model.ToProto(), 3);
        Assert.That(TestModels.RunFile(sortedPath, inputs)["logits"], Is.EqualTo(TestModels.RunFile(expectedPath, inputs)["logits"]));
    }

    [Test]
    public void RemoveDeadNodesDropsWhatFeedsNoOutput()
    {
        var model = TestModels.Mlp();
        var graph = model.Graph;
        var relu = graph["relu_out"];
        // A dead branch with its own initializer, and a dead node reading a live value.
        var unused = graph.AddInitializer(TensorData.FromFloats("unused.weight", [8, 8], new float[64]));
        var dead1 = graph.AddNode("MatMul", [relu, unused], name: "dead_matmul").Outputs[0];
        graph.AddNode("Sigmoid", [dead1], name: "dead_sigmoid");
        var liveNames = graph.Nodes.Take(3).Select(n => n.Name).ToList();
        var reluUses = relu.Uses.Count;

        var removed = graph.RemoveDeadNodes();

        Assert.That(removed, Is.EqualTo(2));
        Assert.That(graph.Nodes.Select(n => n.Name), Is.EqualTo(liveNames));
        Assert.That(graph.Initializers.Select(v => v.Name), Does.Not.Contain("unused.weight"));
        Assert.That(graph.Initializers, Has.Count.EqualTo(4));
        Assert.That(relu.Uses, Has.Count.EqualTo(reluUses - 1), "the dead node's use of a live value is gone");
    }

    [Test]
    public void RemoveDeadNodesKeepsValuesReadBySubgraphs()
    {
        var model = TestModels.Mlp();
        var graph = model.Graph;
        var captured = graph.AddNode("Neg", [graph["logits"]], name: "captured").Outputs[0];
        var thenBranch = new GraphProto { Name = "then" };
        thenBranch.Node.Add(new NodeProto { OpType = "Identity", Input = { captured.Name }, Output = { "t" } });
        thenBranch.Output.Add(new ValueInfoProto { Name = "t" });
        var elseBranch = thenBranch.Clone();
        elseBranch.Name = "else";
        var cond = graph.AddInitializer(new TensorData(new TensorProto { Name = "cond", DataType = (int)TensorProto.Types.DataType.Bool, Int32Data = { 1 } }));
        var ifOut = graph.AddNode("If", [cond], attributes:
        [
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch },
        ], name: "if").Outputs[0];
        graph.Outputs.Add(ifOut);

        Assert.That(graph.RemoveDeadNodes(), Is.EqualTo(0));
        Assert.That(graph.Nodes.Select(n => n.Name), Does.Contain("captured"));
        graph.Nodes.Reverse();
        graph.TopologicalSort();
        Assert.That(graph.Nodes.FindIndex(n => n.Name == "captured"), Is.LessThan(graph.Nodes.FindIndex(n => n.Name == "if")));
    }

    private static bool IsTopological(Graph graph)
    {
        var seen = new HashSet<Node>();
        foreach (var node in graph.Nodes)
        {
            if (node.Inputs.Any(i => i?.Producer is { } p && !seen.Contains(p))) return false;
            seen.Add(node);
        }
        return true;
    }

    private static Span<Node> CollectionsMarshalSpan(List<Node> list) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
}
