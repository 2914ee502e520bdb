using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>
/// Every rule whose op exists before opset 11, checked numerically at each opset from 7 (or the op's
/// first) to 10 (or its last): ONNX Runtime validates every node of the backward graph against its
/// schema at the model's opset when it loads the graph, so a form the opset lacks (Gemm without C,
/// Equal on floats, OneHot, Where, Expand, strided Slice, Clip bounds as inputs...) fails here.
/// The opsets from 11 on are the other rule tests' subject.
/// </summary>
[TestFixture]
public class LowOpsetRuleTests
{
    private const double Tolerance = 2e-3;

    /// <summary>A forward graph for the checker, the ops it exercises and the opsets it exists at.</summary>
    private sealed record Case(string Name, string[] Ops, int FirstOpset, Action<GradientChecker> Build, int LastOpset = 10, double Epsilon = 1e-2,
        string[]? Only = null);

    private static Case Unary(string op, float low = -1, float high = 1, float awayFromZero = 0, int first = 7) =>
        new(op, [op], first, k => k.Output(k.Builder.Op(op, k.Input("x", [2, 3, 4], low, high, awayFromZero))), Epsilon: 1e-3);

    private static Case Attributes(string op, float[] kinks, params Onnx.AttributeProto[] attributes) =>
        new(op, [op], op == "ThresholdedRelu" ? 10 : 7,
            k => k.Output(k.Builder.Op(op, [k.InputAvoiding("x", [3, 5], -3, 3, kinks)], attributes)), Epsilon: 1e-3);

    private static Case Reduction(string op, float low = -1, float high = 1, float awayFromZero = 0, bool distinct = false) =>
        new(op, [op], 7, k =>
        {
            var x = distinct ? k.DistinctInput("x", [2, 3, 4]) : k.Input("x", [2, 3, 4], low, high, awayFromZero);
            k.Output(k.Builder.Op(op, [x], Attr.Ints("axes", [0, 2]), Attr.Int("keepdims", 0)));
            k.Output(k.Builder.Op(op, [x], Attr.Ints("axes", [1])));
        }, Epsilon: 1e-3);

    private static Value Squared(GraphBuilder b, Value y) => b.Mul(y, y);

    private static readonly Case[] Cases =
    [
        Unary("Relu", awayFromZero: 0.05f), Unary("Sigmoid"), Unary("Tanh"), Unary("Exp"), Unary("Neg"), Unary("Abs", awayFromZero: 0.05f),
        Unary("Sin"), Unary("Cos"), Unary("Tan"), Unary("Atan"), Unary("Asin", -0.9f, 0.9f), Unary("Acos", -0.9f, 0.9f),
        Unary("Softplus"), Unary("Softsign", awayFromZero: 0.05f), Unary("Sqrt", 0.5f, 2), Unary("Log", 0.5f, 2), Unary("Reciprocal", 0.5f, 2),
        Unary("Erf", first: 9), Unary("Sinh", first: 9), Unary("Cosh", first: 9), Unary("Asinh", first: 9),
        Unary("Acosh", 1.2f, 3, first: 9), Unary("Atanh", -0.9f, 0.9f, first: 9),
        Attributes("LeakyRelu", [0], Attr.Float("alpha", 0.2f)), Attributes("Elu", [0], Attr.Float("alpha", 0.7f)),
        Attributes("Selu", [0]), Attributes("HardSigmoid", [-2.5f, 2.5f]), Attributes("ThresholdedRelu", [0.7f], Attr.Float("alpha", 0.7f)),
        new("PRelu", ["PRelu"], 7, k => k.Output(k.Builder.Op("PRelu", k.Input("x", [2, 3, 4, 4], -2, 2, 0.05f), k.Input("slope", [3, 1, 1], 0.05f, 0.5f))), Epsilon: 1e-3),
        // ReLU6 as Clip: min and max are attributes before opset 11
        new("Clip", ["Clip"], 7, k => k.Output(k.Builder.Op("Clip", [k.InputAvoiding("x", [4, 5], -8, 8, [0, 6], 0.1f)],
            Attr.Float("min", 0), Attr.Float("max", 6))), Epsilon: 1e-3),
        new("Add Sub Mul Div", ["Add", "Sub", "Mul", "Div"], 7, k =>
        {
            var (a, c) = (k.Input("a", [2, 3, 4]), k.Input("c", [4], 0.5f, 2));
            foreach (var op in new[] { "Add", "Sub", "Mul", "Div" }) k.Output(k.Builder.Op(op, a, c));
        }),
        new("Pow", ["Pow"], 7, k => k.Output(k.Builder.Op("Pow", k.Input("a", [2, 3], 0.5f, 2), k.Input("e", [3], 0.5f, 2)))),
        // Sum, Mean, Max and Min broadcast from opset 8; at opset 7 their inputs share one shape
        new("Sum Mean Max Min", ["Sum", "Mean", "Max", "Min"], 7, k =>
        {
            // values of c halfway between those of a: no tie is within a step of ε
            var a = k.DistinctInput("a", [2, 3, 4]);
            var halfway = Enumerable.Range(0, 24).Select(i => -1 + (2 * i + 1) / 23f).Reverse().ToArray();
            var c = k.Opset >= 8 ? k.Input("c", [3, 1], [halfway[2], halfway[9], halfway[17]]) : k.Input("c", [2, 3, 4], halfway);
            foreach (var op in new[] { "Sum", "Mean", "Max", "Min" }) k.Output(k.Builder.Op(op, a, c));
        }, Epsilon: 1e-3),
        new("Gemm", ["Gemm"], 7, k =>
        {
            var b = k.Builder;
            k.Output(b.Op("Gemm", [k.Input("a", [4, 3]), k.Input("w", [5, 4]), k.Input("c", [5])],
                Attr.Int("transA", 1), Attr.Int("transB", 1), Attr.Float("alpha", 0.7f), Attr.Float("beta", 1.3f)));
            k.Output(b.Op("Gemm", k.Input("d", [2, 3]), k.Input("v", [3, 4]), k.Input("e", [1, 4])));
        }),
        // a 3-D input to a 2-D weight: the weight gradient is one Gemm
        new("MatMul", ["MatMul"], 7, k => k.Output(k.Builder.Op("MatMul", k.Input("a", [2, 3, 4]), k.Input("w", [4, 5])))),
        // stride 1 with 8 channels takes the Conv form of the input gradient (its kernel flipped by a
        // strided Slice, a Gather before opset 10); stride 2 the ConvTranspose form
        new("Conv", ["Conv"], 7, k =>
        {
            var b = k.Builder;
            var x = k.Input("x", [2, 8, 5, 5]);
            k.Output(b.Op("Conv", [x, k.Input("w", [4, 8, 3, 3]), k.Input("bias", [4])], Attr.Ints("pads", [1, 1, 1, 1])));
            k.Output(b.Op("Conv", [x, k.Input("g", [4, 4, 3, 2])], Attr.Ints("strides", [2, 2]), Attr.Int("group", 2), Attr.Ints("pads", [1, 0, 0, 1])));
        }),
        new("ConvTranspose", ["ConvTranspose"], 7, k => k.Output(k.Builder.Op("ConvTranspose", [k.Input("x", [2, 4, 3, 3]), k.Input("w", [4, 3, 3, 3])],
            Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 0, 0])))),
        // overlapping windows (3×3, stride 2) are scattered in phases from opset 9 (strided by a Gather
        // at opset 9), read through the windows' values before
        new("MaxPool", ["MaxPool"], 7, k =>
        {
            var x = k.DistinctInput("x", [2, 3, 7, 7]);
            k.Output(k.Builder.Op("MaxPool", [x], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 1, 1])));
            k.Output(k.Builder.Op("MaxPool", [x], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2])));
        }, Epsilon: 1e-3),
        new("AveragePool", ["AveragePool"], 7, k => k.Output(k.Builder.Op("AveragePool", [k.Input("x", [2, 3, 6, 7])],
            Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 1, 1]), Attr.Int("count_include_pad", 1)))),
        new("Global pooling", ["GlobalAveragePool", "GlobalMaxPool"], 7, k =>
        {
            var x = k.DistinctInput("x", [2, 3, 4, 5]);
            k.Output(k.Builder.Op("GlobalAveragePool", x));
            k.Output(k.Builder.Op("GlobalMaxPool", x));
        }, Epsilon: 1e-3),
        new("BatchNormalization", ["BatchNormalization"], 7, k =>
        {
            var (x, scale, bias) = (k.Input("x", [3, 4, 5, 5]), k.Input("scale", [4]), k.Input("bias", [4]));
            var (mean, variance) = (k.Input("mean", [4]), k.Input("var", [4], 0.5f, 2));
            k.Output(k.Builder.Op("BatchNormalization", [x, scale, bias, mean, variance], Attr.Float("epsilon", 1e-3f)));
        }, Only: ["x", "scale", "bias"]),
        new("InstanceNormalization", ["InstanceNormalization"], 7, k => k.Output(k.Builder.Op("InstanceNormalization",
            [k.Input("x", [2, 3, 4, 5]), k.Input("scale", [3], 0.5f, 1.5f), k.Input("bias", [3])], Attr.Float("epsilon", 1e-3f)))),
        new("MeanVarianceNormalization", ["MeanVarianceNormalization"], 9, k =>
        {
            var x = k.Input("x", [3, 2, 4, 5]);
            k.Output(Squared(k.Builder, k.Builder.Op("MeanVarianceNormalization", x)));
            k.Output(Squared(k.Builder, k.Builder.Op("MeanVarianceNormalization", [x], Attr.Ints("axes", [1, 3]))));
        }),
        new("LRN", ["LRN"], 7, k => k.Output(k.Builder.Op("LRN", [k.Input("x", [2, 6, 3, 3], -2, 2)],
            Attr.Int("size", 3), Attr.Float("alpha", 0.5f), Attr.Float("beta", 0.75f), Attr.Float("bias", 2)))),
        new("Softmax LogSoftmax", ["Softmax", "LogSoftmax"], 7, k =>
        {
            var x = k.Input("x", [2, 3, 4]);
            k.Output(k.Builder.Op("Softmax", [x], Attr.Int("axis", 1)));
            k.Output(k.Builder.Op("LogSoftmax", [x], Attr.Int("axis", 2)));
        }),
        Reduction("ReduceSum"), Reduction("ReduceMean"), Reduction("ReduceMax", distinct: true), Reduction("ReduceMin", distinct: true),
        Reduction("ReduceL1", awayFromZero: 0.05f), Reduction("ReduceL2"), Reduction("ReduceLogSumExp"), Reduction("ReduceSumSquare"),
        Reduction("ReduceProd", 0.5f, 1.5f), Reduction("ReduceLogSum", 0.5f, 2),
        new("Reshape Flatten Transpose Squeeze Unsqueeze Identity Cast", ["Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Cast"], 7, k =>
        {
            var b = k.Builder;
            var y = b.Transpose(b.Reshape(k.Input("x", [2, 3, 4]), b.Ints(2, 12, 1)), [2, 0, 1]);
            y = b.Op("Flatten", [b.Identity(b.Op("Squeeze", [b.Unsqueeze(y, 0)], Attr.Ints("axes", [0])))], Attr.Int("axis", 2));
            k.Output(Squared(b, b.Cast(b.Cast(y, Onnx.TensorProto.Types.DataType.Double), Onnx.TensorProto.Types.DataType.Float)));
        }),
        new("Concat Split", ["Concat", "Split"], 7, k =>
        {
            var b = k.Builder;
            var y = b.Concat(1, k.Input("a", [2, 2, 3]), k.Input("c", [2, 3, 3]));
            var parts = b.OpMulti("Split", [y], 3, Attr.Int("axis", 1), Attr.Ints("split", [1, 3, 1]));
            k.Output(Squared(b, parts[0]));
            k.Output(Squared(b, parts[2]));
        }),
        new("Slice Pad", ["Slice", "Pad"], 7, k =>
        {
            var b = k.Builder;
            var x = k.Input("x", [3, 5, 4]);
            k.Output(Squared(b, b.Slice(x, [1, -3], [100, -1], [0, 2])));
            k.Output(Squared(b, b.Op("Pad", [x], Attr.Ints("pads", [1, 0, -1, 0, 2, 1]), Attr.Float("value", 0.5f))));
        }),
        new("Tile", ["Tile"], 7, k => k.Output(Squared(k.Builder, k.Builder.Op("Tile", k.Input("x", [2, 3]), k.Builder.Ints(2, 3))))),
        new("DepthToSpace SpaceToDepth", ["DepthToSpace", "SpaceToDepth"], 7, k =>
        {
            var b = k.Builder;
            k.Output(Squared(b, b.Op("DepthToSpace", [k.Input("x", [1, 8, 2, 3])], Attr.Int("blocksize", 2))));
            k.Output(Squared(b, b.Op("SpaceToDepth", [k.Input("y", [1, 2, 4, 6])], Attr.Int("blocksize", 2))));
        }),
        new("Dropout", ["Dropout"], 7, k => k.Output(Squared(k.Builder, k.Builder.Op("Dropout", [k.Input("x", [3, 4])], Attr.Float("ratio", 0.3f))))),
        new("Expand", ["Expand"], 8, k => k.Output(Squared(k.Builder, k.Builder.Op("Expand", k.Input("x", [3, 1]), k.Builder.Ints(2, 3, 4))))),
        new("Upsample", ["Upsample"], 7, k =>
        {
            var b = k.Builder;
            var x = k.Input("x", [2, 3, 3, 4]);
            foreach (var mode in new[] { "nearest", "linear" })
                k.Output(Squared(b, k.Opset >= 9
                    ? b.Op("Upsample", [x, b.Floats([4], [1, 1, 2, 3])], Attr.String("mode", mode))
                    : b.Op("Upsample", [x], Attr.String("mode", mode), Attr.Floats("scales", [1, 1, 2, 3]))));
        }, LastOpset: 9),
        new("Resize", ["Resize"], 10, k =>
        {
            var b = k.Builder;
            var x = k.Input("x", [2, 3, 3, 4]);
            foreach (var mode in new[] { "nearest", "linear" })
                k.Output(Squared(b, b.Op("Resize", [x, b.Floats([4], [1, 1, 2, 1.5f])], Attr.String("mode", mode))));
        }),
        // an embedding: one-hot rows (OneHot from opset 9) times the output gradient in a Gemm (C from opset 11)
        new("Gather", ["Gather"], 7, k =>
        {
            var tokens = k.Constant(TensorData.FromInt64s("tokens", [2, 3], [1, 4, 1, 5, 0, 4]));
            k.Output(Squared(k.Builder, k.Builder.Op("Gather", [k.Input("table", [6, 4]), tokens], Attr.Int("axis", 0))));
        }),
        new("TopK", ["TopK"], 9, k =>
        {
            var b = k.Builder;
            var x = k.DistinctInput("x", [3, 6]);
            var outputs = k.Opset >= 10 ? b.OpMulti("TopK", [x, b.Ints(3)], 2, Attr.Int("axis", 1)) : b.OpMulti("TopK", [x], 2, Attr.Int("k", 3), Attr.Int("axis", 1));
            k.Output(Squared(b, outputs[0]));
        }, Epsilon: 1e-3),
        new("Where", ["Where"], 9, k =>
        {
            var b = k.Builder;
            var condition = b.Op("Greater", k.Input("p", [3, 4], 0.1f, 1), b.Scalar(0.5f));
            k.Output(b.Where(condition, k.Input("a", [3, 4]), k.Input("c", [4])));
        }, Only: ["a", "c"]),
        new("Scatter", ["Scatter"], 9, k =>
        {
            var indices = k.Constant(TensorData.FromInt64s("idx", [2, 3], [1, 0, 3, 0, 2, 1]));
            k.Output(Squared(k.Builder, k.Builder.Op("Scatter", [k.Input("data", [3, 4]), indices, k.Input("updates", [2, 3])], Attr.Int("axis", 1))));
        }),
    ];

    public static IEnumerable<TestCaseData> CaseOpsets() =>
        Cases.SelectMany(c => Enumerable.Range(Math.Max(7, c.FirstOpset), c.LastOpset - Math.Max(7, c.FirstOpset) + 1)
            .Select(opset => new TestCaseData(c.Name, opset).SetArgDisplayNames(c.Name, $"opset {opset}")));

    [TestCaseSource(nameof(CaseOpsets))]
    public void Gradient_graph_is_valid_at_the_opset_and_matches_central_differences(string name, int opset)
    {
        var entry = Cases.Single(c => c.Name == name);
        var k = new GradientChecker(opset, seed: 3);
        entry.Build(k);
        Assert.That(k.Check(epsilon: entry.Epsilon, only: entry.Only), Is.LessThan(Tolerance));
    }

    /// <summary>Ops that ONNX has only from opset 11 on (or whose every form before is covered above
    /// under another name); a new rule for an older op needs a case here.</summary>
    private static readonly string[] Newer =
    [
        "ScatterElements", "ScatterND", "GatherElements", "GatherND", "CumSum", "Einsum", "SoftmaxCrossEntropyLoss",
        "NegativeLogLikelihoodLoss", "Celu", "HardSwish", "Trilu", "LayerNormalization", "Gelu", "Mish",
    ];

    [Test]
    public void Every_rule_for_an_op_older_than_opset_11_has_a_case()
    {
        var covered = Cases.SelectMany(c => c.Ops).Concat(Newer).ToHashSet();
        Assert.That(GradientRegistry.Default.DifferentiableOps.Where(op => !covered.Contains(op)), Is.Empty);
    }

    /// <summary>
    /// Before opset 9 MaxPool's gradient goes through the windows' values; where a window holds its
    /// maximum twice (zeros after a Relu, padding of equal values), it must reach the first, as the
    /// Indices the later forms scatter with do.
    /// </summary>
    [TestCase(7)]
    [TestCase(8)]
    public void MaxPool_through_windows_gives_ties_to_the_first_maximum_as_Indices_do(int opset)
    {
        Dictionary<string, float[]> Gradients(int at)
        {
            var k = new GradientChecker(at, seed: 4);
            // values from {−1, 0, 1, 2}: most windows hold their maximum more than once
            var x = k.Input("x", [2, 3, 7, 7], Enumerable.Range(0, 2 * 3 * 7 * 7).Select(i => (float)(i * 7 % 4) - 1).ToArray());
            k.Output(k.Builder.Op("MaxPool", [x], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 0, 1, 2])));
            k.Output(k.Builder.Op("MaxPool", [x], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [1, 1])));
            return k.Gradients();
        }
        Assert.That(Gradients(opset)["x"], Is.EqualTo(Gradients(17)["x"]).Within(1e-6f));
    }

    /// <summary>What no opset before 9 can express is refused up front, so inspect never promises it.</summary>
    [Test]
    public void Refusals_before_opset_9_name_the_missing_op()
    {
        var graph = new Graph();
        var x = graph.AddInput("x", TensorTypes.Float(2, 6));
        var topK = graph.AddNode("TopK", [x], 2, [Attr.Int("k", 3)]);
        Assert.That(GradientRegistry.Default.Unsupported(topK, 8), Does.Contain("Scatter").And.Contain("opset 9"));
        Assert.That(GradientRegistry.Default.Unsupported(topK, 9), Is.Null);
        var bn = graph.AddNode("BatchNormalization", [x, x, x, x, x], 1, [Attr.Int("spatial", 0)]);
        Assert.That(GradientRegistry.Default.Unsupported(bn, 7), Does.Contain("spatial=0"));
    }
}
