using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>
/// Whole graphs in the shapes real exporters emit, differentiated end to end with respect to the
/// input and every weight (weights are checker inputs here, so each gets a numeric check).
/// </summary>
[TestFixture]
public class ModelGraphTests
{
    private const double Tolerance = 2e-3;

    // Keras through tf2onnx (opset 13): NHWC input transposed to NCHW for the Conv and back
    // before the flatten, Reshape by a constant shape, dense layers as MatMul + Add.
    [TestCase(false)]
    [TestCase(true)]
    public void Keras_tf2onnx_style_convnet(bool dynamicBatch)
    {
        var k = new GradientChecker(13, seed: 3);
        var b = k.Builder;
        var input = k.Input("input", [2, 8, 8, 3]);
        if (dynamicBatch) k.Batched(input);
        var convW = k.Input("conv_w", [4, 3, 3, 3], -0.5f, 0.5f);
        var convB = k.Input("conv_b", [4], -0.1f, 0.1f);
        var dense1W = k.Input("dense1_w", [64, 8], -0.3f, 0.3f);
        var dense1B = k.Input("dense1_b", [8], -0.1f, 0.1f);
        var dense2W = k.Input("dense2_w", [8, 5], -0.5f, 0.5f);
        var dense2B = k.Input("dense2_b", [5], -0.1f, 0.1f);

        var h = b.Transpose(input, [0, 3, 1, 2]);
        h = b.Op("Conv", [h, convW, convB], Attr.Ints("kernel_shape", [3, 3]), Attr.String("auto_pad", "SAME_UPPER"));
        h = b.Op("Relu", h);
        h = b.Op("MaxPool", [h], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]));
        h = b.Transpose(h, [0, 2, 3, 1]);
        h = b.Reshape(h, k.Constant(TensorData.FromInt64s("flatten_shape", [2], [0, -1])));
        h = b.Op("Relu", b.Add(b.Op("MatMul", h, dense1W), dense1B));
        h = b.Add(b.Op("MatMul", h, dense2W), dense2B);
        k.Output(b.Op("Softmax", [h], Attr.Int("axis", -1)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    // MobileNet-style block (opset 14): Conv → frozen BatchNormalization → ReLU6 (Clip) →
    // depthwise Conv → HardSwish → GlobalAveragePool → Flatten → Gemm(transB=1).
    [TestCase(false)]
    [TestCase(true)]
    public void MobileNet_style_block(bool dynamicBatch)
    {
        var k = new GradientChecker(14, seed: 5);
        var b = k.Builder;
        var input = k.Input("input", [2, 3, 8, 8]);
        if (dynamicBatch) k.Batched(input);
        var convW = k.Input("conv_w", [8, 3, 3, 3], -0.5f, 0.5f);
        var gamma = k.Input("bn_scale", [8], 0.5f, 1.5f);
        var beta = k.Input("bn_bias", [8], 0.5f, 1f);
        var mean = k.Constant(TensorData.FromFloats("bn_mean", [8], [0.1f, -0.2f, 0f, 0.05f, 0.2f, -0.1f, 0.3f, 0f]));
        var variance = k.Constant(TensorData.FromFloats("bn_var", [8], [0.5f, 1f, 0.8f, 1.2f, 0.6f, 0.9f, 1.1f, 0.7f]));
        var depthwiseW = k.Input("dw_w", [8, 1, 3, 3], -1f, 1f);
        var fcW = k.Input("fc_w", [5, 8], -0.5f, 0.5f);
        var fcB = k.Input("fc_b", [5], -0.1f, 0.1f);

        var h = b.Op("Conv", [input, convW], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 1, 1]));
        h = b.Op("BatchNormalization", [h, gamma, beta, mean, variance], Attr.Float("epsilon", 1e-3f));
        h = b.Op("Clip", h, b.Scalar(0), b.Scalar(6));
        h = b.Op("Conv", [h, depthwiseW], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", [1, 1, 1, 1]), Attr.Int("group", 8));
        h = b.Op("HardSwish", h);
        h = b.Op("GlobalAveragePool", h);
        h = b.Op("Flatten", [h], Attr.Int("axis", 1));
        k.Output(b.Op("Gemm", [h, fcW, fcB], Attr.Int("transB", 1)));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }

    // A one-block transformer (opset 17): embedding Gather of constant token ids →
    // LayerNormalization → single-head attention → residual Add → erf GELU → mean over the
    // sequence → Gemm classifier.
    [Test]
    public void Transformer_style_block()
    {
        const int d = 8;
        var k = new GradientChecker(17, seed: 7);
        var b = k.Builder;
        var embedding = k.Input("embedding", [7, d]);
        var gamma = k.Input("ln_scale", [d], 0.5f, 1.5f);
        var beta = k.Input("ln_bias", [d], -0.2f, 0.2f);
        var wq = k.Input("wq", [d, d], -0.5f, 0.5f);
        var wk = k.Input("wk", [d, d], -0.5f, 0.5f);
        var wv = k.Input("wv", [d, d], -0.5f, 0.5f);
        var wo = k.Input("wo", [d, 3], -0.5f, 0.5f);
        var bo = k.Input("bo", [3], -0.1f, 0.1f);
        var tokens = k.Constant(TensorData.FromInt64s("tokens", [2, 5], [1, 4, 4, 0, 6, 2, 2, 3, 5, 1]));

        var h = b.Op("Gather", [embedding, tokens], Attr.Int("axis", 0));
        h = b.Op("LayerNormalization", [h, gamma, beta], Attr.Int("axis", -1));
        var q = b.Op("MatMul", h, wq);
        var kk = b.Op("MatMul", h, wk);
        var v = b.Op("MatMul", h, wv);
        var scores = b.Mul(b.Op("MatMul", q, b.Transpose(kk, [0, 2, 1])), b.Scalar((float)(1 / Math.Sqrt(d))));
        var attention = b.Op("MatMul", b.Op("Softmax", [scores], Attr.Int("axis", -1)), v);
        h = b.Add(h, attention);
        var erf = b.Op("Erf", b.Div(h, b.Scalar((float)Math.Sqrt(2))));
        h = b.Mul(b.Mul(h, b.Scalar(0.5f)), b.Add(b.Scalar(1), erf));
        h = b.Reduce("ReduceMean", h, [1], keepDims: false);
        k.Output(b.Op("Gemm", h, wo, bo));
        Assert.That(k.Check(epsilon: 1e-3), Is.LessThan(Tolerance));
    }
}
