using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>The default registry covers the coverage target of DESIGN.md §5, and refuses the
/// attribute combinations its rules do not handle with a reason.</summary>
[TestFixture]
public class RegistryCoverageTests
{
    private static readonly string[] CoverageTarget =
    [
        "Cast", "Sin", "Cos", "Log", "Tanh", "Sqrt", "Erf", "Exp", "Abs", "Neg", "Pow", "Reciprocal", "Relu", "LeakyRelu",
        "Sigmoid", "Add", "Sub", "Mul", "Div", "Min", "Max", "Where", "Clip", "MatMul", "Gemm", "Conv", "ConvTranspose",
        "MaxPool", "AveragePool", "GlobalAveragePool", "Softmax", "LogSoftmax", "SoftmaxCrossEntropyLoss", "ReduceMean",
        "ReduceSum", "ReduceLogSumExp", "ReduceL2", "Split", "Concat", "Reshape", "Flatten", "Transpose", "Squeeze",
        "Unsqueeze", "Expand", "Tile", "Slice", "Pad", "Gather", "GatherND", "GatherElements", "TopK", "Identity", "Dropout",
        "Gelu", "LayerNormalization", "BatchNormalization", "HardSigmoid", "HardSwish", "PRelu", "Elu", "Softplus",
        "GlobalMaxPool", "Resize",
    ];

    [Test]
    public void Default_registry_covers_the_target()
    {
        var covered = GradientRegistry.Default.DifferentiableOps.ToHashSet();
        Assert.That(CoverageTarget.Where(op => !covered.Contains(op)), Is.Empty);
    }

    [Test]
    public void Non_differentiable_ops_are_not_rules()
    {
        var registry = GradientRegistry.Default;
        Assert.That(registry.NonDifferentiableOps, Does.Contain("Shape").And.Contain("ArgMax").And.Contain("Hardmax"));
        Assert.That(registry.DifferentiableOps.Intersect(registry.NonDifferentiableOps), Is.Empty);
    }

    private static string? Reason(int opset, string op, int inputs, params Onnx.AttributeProto[] attributes) =>
        Reason(opset, op, inputs, 1, attributes);

    private static string? Reason(int opset, string op, int inputs, int outputs, params Onnx.AttributeProto[] attributes)
    {
        var graph = new Graph();
        var values = Enumerable.Range(0, inputs).Select(i => (Value?)graph.AddInput($"in{i}", TensorTypes.Float(2, 3))).ToList();
        var node = graph.AddNode(op, values, outputs, attributes);
        return GradientRegistry.Default.Unsupported(node, opset);
    }

    private static string? ReasonWithConstants(int opset, string op, Func<GraphBuilder, Value?[]> inputs, params Onnx.AttributeProto[] attributes)
    {
        var graph = new Graph();
        var builder = new GraphBuilder(graph, opset, "t");
        var node = graph.AddNode(op, inputs(builder), 1, attributes);
        return GradientRegistry.Default.Unsupported(node, opset);
    }

    [TestCase("reflect")]
    [TestCase("edge")]
    [TestCase("wrap")]
    public void Pad_modes_other_than_constant_are_refused(string mode)
    {
        Assert.That(ReasonWithConstants(13, "Pad", b => [b.Graph.AddInput("x", TensorTypes.Float(2, 3)), b.Ints(1, 1, 1, 1)],
            Attr.String("mode", mode)), Does.Contain(mode));
        Assert.That(ReasonWithConstants(13, "Pad", b => [b.Graph.AddInput("x", TensorTypes.Float(2, 3)), b.Ints(1, 1, 1, 1)]), Is.Null);
    }

    [Test]
    public void Runtime_computed_slice_bounds_are_refused() =>
        Assert.That(Reason(13, "Slice", 3), Does.Contain("constants"));

    [Test]
    public void Resize_modes_it_does_not_cover_are_refused()
    {
        Value?[] Inputs(GraphBuilder b) => [b.Graph.AddInput("x", TensorTypes.Float(1, 1, 2, 2)), null, b.Floats([4], [1, 1, 2, 2])];
        Assert.That(ReasonWithConstants(13, "Resize", Inputs, Attr.String("mode", "linear")), Is.Null);
        Assert.That(ReasonWithConstants(13, "Resize", Inputs, Attr.String("coordinate_transformation_mode", "tf_crop_and_resize")),
            Does.Contain("tf_crop_and_resize"));
        Assert.That(ReasonWithConstants(18, "Resize", Inputs, Attr.String("mode", "linear"), Attr.Int("antialias", 1)), Does.Contain("antialias"));
        Assert.That(ReasonWithConstants(18, "Resize", Inputs, Attr.String("keep_aspect_ratio_policy", "not_larger")), Does.Contain("not_larger"));
        Assert.That(Reason(13, "Resize", 3), Does.Contain("scales"));
    }

    [Test]
    public void Other_refusals_name_the_attribute()
    {
        Assert.That(Reason(20, "Gelu", 1, Attr.String("approximate", "sigmoid")), Does.Contain("sigmoid"));
        Assert.That(Reason(13, "SoftmaxCrossEntropyLoss", 2, Attr.String("reduction", "max")), Does.Contain("max"));
        Assert.That(Reason(13, "Tile", 2), Does.Contain("repeats"));
        Assert.That(Reason(18, "ReduceMax", 2), Does.Contain("axes"));
        Assert.That(Reason(13, "SoftmaxCrossEntropyLoss", 2, Attr.Int("ignore_index", -100)), Is.Null);
        Assert.That(Reason(13, "Einsum", 1, Attr.String("equation", "ii->i")), Does.Contain("diagonal"));
        Assert.That(Reason(13, "Einsum", 2, Attr.String("equation", "...ij,jk->...ik")), Is.Null);
    }
}
