using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>Numeric checks of the rules the sample models use.</summary>
[TestFixture]
public class CoreRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase(new long[] { 2, 3 }, new long[] { 2, 3 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 4 })]
    [TestCase(new long[] { 2, 1, 4 }, new long[] { 3, 1 })]
    public void Binary_ops_with_broadcasting(long[] a, long[] b)
    {
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
        {
            var k = new GradientChecker();
            var x = k.Input("a", a);
            var y = k.Input("b", b, 0.5f, 2f);
            k.Output(k.Builder.Op(op, x, y));
            Assert.That(k.Check(), Is.LessThan(Tolerance), op);
        }
    }

    [TestCase("Relu")]
    [TestCase("Sigmoid")]
    [TestCase("Tanh")]
    [TestCase("Exp")]
    [TestCase("Neg")]
    [TestCase("Abs")]
    [TestCase("Erf")]
    [TestCase("Sin")]
    [TestCase("Cos")]
    public void Unary_ops(string op)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 5], awayFromZero: 0.05f);
        k.Output(k.Builder.Op(op, x));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase("Sqrt")]
    [TestCase("Log")]
    [TestCase("Reciprocal")]
    public void Unary_ops_on_positive_inputs(string op)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [3, 4], 0.5f, 2f);
        k.Output(k.Builder.Op(op, x));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase(0, 0)]
    [TestCase(1, 0)]
    [TestCase(0, 1)]
    [TestCase(1, 1)]
    public void Gemm_with_transposes_and_bias(int transA, int transB)
    {
        var k = new GradientChecker();
        var a = k.Input("a", transA == 1 ? [4, 3] : [3, 4]);
        var b = k.Input("b", transB == 1 ? [5, 4] : [4, 5]);
        var c = k.Input("c", [5]);
        k.Output(k.Builder.Op("Gemm", [a, b, c], Attr.Int("transA", transA), Attr.Int("transB", transB), Attr.Float("alpha", 0.7f), Attr.Float("beta", 1.3f)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(new long[] { 3, 4 }, new long[] { 4, 5 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 4, 5 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 1, 4, 5 })]
    public void MatMul_with_batch_broadcasting(long[] a, long[] b)
    {
        var k = new GradientChecker();
        k.Output(k.Builder.Op("MatMul", k.Input("a", a), k.Input("b", b)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(1, 1, 1, new long[] { 1, 1, 1, 1 }, 1, "NOTSET")]
    [TestCase(2, 1, 1, new long[] { 1, 1, 1, 1 }, 1, "NOTSET")]
    [TestCase(2, 1, 1, new long[] { 0, 1, 1, 0 }, 1, "NOTSET")]
    [TestCase(1, 2, 1, new long[] { 2, 2, 2, 2 }, 1, "NOTSET")]
    [TestCase(2, 1, 2, new long[] { 1, 1, 1, 1 }, 2, "NOTSET")]
    [TestCase(1, 1, 4, new long[] { 1, 1, 1, 1 }, 4, "NOTSET")]
    [TestCase(2, 1, 4, new long[] { 0, 0, 0, 0 }, 4, "SAME_UPPER")]
    [TestCase(3, 1, 1, new long[] { 0, 0, 0, 0 }, 1, "SAME_LOWER")]
    [TestCase(2, 2, 1, new long[] { 0, 0, 0, 0 }, 1, "VALID")]
    public void Conv2d_strides_dilations_pads_groups(int stride, int dilation, int group, long[] pads, int _, string autoPad)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 4, 7, 6]);
        var w = k.Input("w", [8, 4 / group, 3, 3]);
        var b = k.Input("b", [8]);
        var attributes = new List<Onnx.AttributeProto>
        {
            Attr.Ints("strides", [stride, stride]), Attr.Ints("dilations", [dilation, dilation]), Attr.Int("group", group),
        };
        attributes.Add(autoPad == "NOTSET" ? Attr.Ints("pads", pads) : Attr.String("auto_pad", autoPad));
        k.Output(k.Builder.Op("Conv", [x, w, b], [.. attributes]));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Conv1d_and_depthwise_with_multiplier()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 9]);
        var w = k.Input("w", [6, 1, 3]);
        k.Output(k.Builder.Op("Conv", [x, w], Attr.Int("group", 3), Attr.Ints("strides", [2]), Attr.Ints("pads", [1, 0])));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// The Conv form of the input gradient (stride 1, at least 8 input channels): group 1, grouped,
    /// depthwise, dilated, asymmetric pads, pointwise, spatial ranks 1 and 3; and beside them the
    /// cases that keep the ConvTranspose form: a depthwise channel multiplier, pads beyond the kernel's extent.
    /// </summary>
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 6, 8, 3, 3 }, 1, 1, new long[] { 1, 1, 1, 1 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 6, 8, 3, 2 }, 1, 1, new long[] { 0, 1, 2, 0 })]
    [TestCase(new long[] { 2, 8, 6, 5 }, new long[] { 4, 8, 3, 3 }, 1, 2, new long[] { 2, 1, 0, 2 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 6, 4, 3, 3 }, 2, 1, new long[] { 1, 1, 1, 1 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 8, 1, 3, 3 }, 8, 1, new long[] { 1, 1, 1, 1 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 16, 1, 3, 3 }, 8, 1, new long[] { 1, 0, 1, 2 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 5, 8, 1, 1 }, 1, 1, new long[] { 0, 0, 0, 0 })]
    [TestCase(new long[] { 2, 8, 5, 4 }, new long[] { 5, 8, 1, 1 }, 1, 1, new long[] { 1, 0, 0, 1 })]
    [TestCase(new long[] { 2, 8, 9 }, new long[] { 4, 8, 3 }, 1, 1, new long[] { 2, 1 })]
    [TestCase(new long[] { 2, 8, 3, 4, 3 }, new long[] { 4, 4, 2, 3, 2 }, 2, 1, new long[] { 1, 1, 0, 0, 1, 1 })]
    public void Conv_input_gradient_of_stride_1_convs(long[] input, long[] weight, int group, int dilation, long[] pads)
    {
        var k = new GradientChecker();
        var x = k.Input("x", input);
        var w = k.Input("w", weight);
        var rank = input.Length - 2;
        k.Output(k.Builder.Op("Conv", [x, w], Attr.Int("group", group), Attr.Ints("pads", pads),
            Attr.Ints("dilations", Enumerable.Repeat((long)dilation, rank).ToArray())));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// The patch form of the weight gradient at spatial ranks 1 and 3, 1×1 kernels and a single input
    /// channel (a grayscale stem: group 1, not depthwise) included.
    /// </summary>
    [TestCase(new long[] { 2, 3, 9 }, new long[] { 4, 3, 3 }, 2)]
    [TestCase(new long[] { 2, 1, 6, 5 }, new long[] { 4, 1, 3, 3 }, 1)]
    [TestCase(new long[] { 2, 1, 7, 6 }, new long[] { 3, 1, 3, 3 }, 2)]
    [TestCase(new long[] { 2, 3, 9 }, new long[] { 4, 3, 1 }, 1)]
    [TestCase(new long[] { 2, 2, 4, 5, 3 }, new long[] { 3, 2, 2, 3, 2 }, 1)]
    [TestCase(new long[] { 2, 4, 5, 4 }, new long[] { 6, 4, 1, 1 }, 2)]
    public void Conv_of_other_ranks_and_pointwise(long[] input, long[] weight, int stride)
    {
        var k = new GradientChecker();
        var x = k.Input("x", input);
        var w = k.Input("w", weight);
        var rank = input.Length - 2;
        k.Output(k.Builder.Op("Conv", [x, w], Attr.Ints("strides", Enumerable.Repeat((long)stride, rank).ToArray()),
            Attr.Ints("pads", Enumerable.Repeat(weight[2] > 1 ? 1L : 0L, 2 * rank).ToArray())));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase(17, 2, 2, 0)]
    [TestCase(17, 3, 2, 1)]
    [TestCase(17, 3, 1, 0)]
    [TestCase(13, 3, 2, 1)]
    [TestCase(13, 2, 2, 0)]
    [TestCase(11, 3, 1, 0)]
    public void MaxPool(int opset, int kernel, int stride, int ceil)
    {
        var k = new GradientChecker(opset);
        var x = k.DistinctInput("x", [2, 3, 7, 7]);
        k.Output(k.Builder.Op("MaxPool", [x], Attr.Ints("kernel_shape", [kernel, kernel]), Attr.Ints("strides", [stride, stride]),
            Attr.Ints("pads", [1, 1, 1, 1]), Attr.Int("ceil_mode", ceil)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [TestCase(2, 2, 0, 0, 0)]
    [TestCase(3, 2, 1, 0, 0)]
    [TestCase(3, 2, 1, 1, 0)]
    [TestCase(3, 2, 1, 0, 1)]
    [TestCase(3, 1, 1, 1, 1)]
    public void AveragePool(int kernel, int stride, int pad, int countIncludePad, int ceil)
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 6, 7]);
        k.Output(k.Builder.Op("AveragePool", [x], Attr.Ints("kernel_shape", [kernel, kernel]), Attr.Ints("strides", [stride, stride]),
            Attr.Ints("pads", [pad, pad, pad, pad]), Attr.Int("count_include_pad", countIncludePad), Attr.Int("ceil_mode", ceil)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [TestCase("GlobalAveragePool")]
    [TestCase("GlobalMaxPool")]
    public void Global_pooling(string op)
    {
        var k = new GradientChecker();
        k.Output(k.Builder.Op(op, k.DistinctInput("x", [2, 3, 4, 5])));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    [Test]
    public void BatchNormalization_frozen()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [3, 4, 5, 5]);
        var scale = k.Input("scale", [4]);
        var bias = k.Input("bias", [4]);
        var mean = k.Input("mean", [4]);
        var variance = k.Input("var", [4], 0.5f, 2f);
        k.Output(k.Builder.Op("BatchNormalization", [x, scale, bias, mean, variance], Attr.Float("epsilon", 1e-3f)));
        Assert.That(k.Check(only: ["x", "scale", "bias"]), Is.LessThan(Tolerance));
    }

    [TestCase(13, 1)]
    [TestCase(13, -1)]
    [TestCase(11, 1)]
    public void Softmax_and_LogSoftmax(int opset, int axis)
    {
        foreach (var op in new[] { "Softmax", "LogSoftmax" })
        {
            var k = new GradientChecker(opset);
            k.Output(k.Builder.Op(op, [k.Input("x", [2, 3, 4])], Attr.Int("axis", axis)));
            Assert.That(k.Check(), Is.LessThan(Tolerance), op);
        }
    }

    [TestCase(13, 1)]
    [TestCase(13, 0)]
    [TestCase(18, 0)]
    [TestCase(11, 1)]
    public void ReduceSum_and_ReduceMean(int opset, int keepDims)
    {
        var k = new GradientChecker(opset);
        var x = k.Input("x", [2, 3, 4]);
        k.Output(k.Builder.ReduceSum(x, [1, -1], keepDims == 1));
        k.Output(k.Builder.Reduce("ReduceMean", x, [0, 2], keepDims == 1));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Reshape_Flatten_Transpose_Identity_Unsqueeze()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [2, 3, 4]);
        var b = k.Builder;
        var y = b.Transpose(b.Reshape(x, b.Ints(2, 12, 1)), [2, 0, 1]);
        y = b.Op("Flatten", [b.Identity(b.Unsqueeze(y, 0))], Attr.Int("axis", 2));
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Paths_that_meet_are_summed()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [3, 4]);
        var b = k.Builder;
        var h = b.Op("Tanh", x);
        k.Output(b.Add(b.Mul(h, x), b.Op("Sigmoid", h)));
        Assert.That(k.Check(), Is.LessThan(Tolerance));
    }

    [Test]
    public void Clip_as_relu6_and_LeakyRelu()
    {
        var k = new GradientChecker();
        var x = k.Input("x", [4, 5], -8, 8, awayFromZero: 0.1f);
        var b = k.Builder;
        k.Output(b.Op("Clip", x, b.Scalar(0), b.Scalar(6)));
        k.Output(b.Op("LeakyRelu", [x], Attr.Float("alpha", 0.2f)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }
}
