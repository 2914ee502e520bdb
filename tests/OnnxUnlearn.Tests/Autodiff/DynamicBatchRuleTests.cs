using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Tests.Autodiff;

/// <summary>
/// The rules as a real model meets them: the shape probe sees two batch sizes, so every dim that
/// grows with the batch reaches the rules as -1 (reshape targets, offsets and counts must then come
/// from run-time shapes or leave that one dim to Reshape). Indices that vary with the batch come
/// from ArgMax of a distinct-valued input (not differentiated).
/// </summary>
[TestFixture]
public class DynamicBatchRuleTests
{
    private const double Tolerance = 2e-3;

    [TestCase("GatherEmbedding", 13)]
    [TestCase("GatherEmbedding", 17)]
    [TestCase("GatherAxis1", 13)]
    [TestCase("GatherAxis1", 17)]
    [TestCase("GatherElements", 13)]
    [TestCase("GatherElements", 17)]
    [TestCase("GatherNDBatchDims", 13)]
    [TestCase("GatherNDBatchDims", 17)]
    [TestCase("TopK", 13)]
    [TestCase("ConcatBatchAxis", 13)]
    [TestCase("ConcatBatchAxis", 11)]
    [TestCase("Split", 13)]
    [TestCase("SliceSteps", 13)]
    [TestCase("Pad", 13)]
    [TestCase("Tile", 13)]
    [TestCase("Expand", 13)]
    [TestCase("ResizeNearest", 13)]
    [TestCase("ResizeLinearNchw", 13)]
    [TestCase("ResizeLinearNhwc", 13)]
    [TestCase("LayerNormalization", 17)]
    [TestCase("InstanceNormalization", 13)]
    [TestCase("ConvTranspose", 13)]
    [TestCase("SoftmaxCrossEntropyLoss", 13)]
    [TestCase("ReduceMax", 18)]
    public void Rule_with_a_batch_dim(string which, int opset)
    {
        var k = new GradientChecker(opset, seed: 11);
        var b = k.Builder;
        var only = new List<string> { "x" };
        Value Selector(long[] dims, int axis, bool keepDims)
        {
            var source = k.Batched(k.DistinctInput("selector", dims));
            return b.Op("ArgMax", [source], Attr.Int("axis", axis), Attr.Int("keepdims", keepDims ? 1 : 0));
        }
        Value y;
        switch (which)
        {
            case "GatherEmbedding":
            {
                var table = k.Input("x", [5, 4]);
                y = b.Op("Gather", [table, Selector([2, 3, 5], -1, false)], Attr.Int("axis", 0));
                break;
            }
            case "GatherAxis1":
                y = b.Op("Gather", [k.Batched(k.Input("x", [2, 3, 4])), b.Ints(2, 0, 2)], Attr.Int("axis", 1));
                break;
            case "GatherElements":
                y = b.Op("GatherElements", [k.Batched(k.Input("x", [2, 4, 3])), Selector([2, 4, 3], 1, true)], Attr.Int("axis", 1));
                break;
            case "GatherNDBatchDims":
                y = b.Op("GatherND", [k.Batched(k.Input("x", [2, 4, 3])), Selector([2, 4], 1, true)], Attr.Int("batch_dims", 1));
                break;
            case "TopK":
                y = b.OpMulti("TopK", [k.Batched(k.DistinctInput("x", [2, 6])), b.Ints(3)], 2, Attr.Int("axis", 1))[0];
                break;
            case "ConcatBatchAxis":
            {
                var x = k.Batched(k.Input("x", [2, 3]));
                var other = k.Batched(k.Input("other", [3, 3]));
                only.Add("other");
                y = b.Concat(0, x, b.Op("Sigmoid", x), other);
                break;
            }
            case "Split":
            {
                var parts = b.OpMulti("Split", [k.Batched(k.Input("x", [2, 5, 2])), b.Ints(2, 3)], 2, Attr.Int("axis", 1));
                y = parts[1];
                break;
            }
            case "SliceSteps":
                y = b.Slice(k.Batched(k.Input("x", [2, 7, 6])), [0, 6, 1], [long.MaxValue, 0, 6], [0, 1, 2], [1, -2, 2]);
                break;
            case "Pad":
                y = b.Op("Pad", k.Batched(k.Input("x", [2, 3, 4])), b.Ints(0, 1, 2, 0, 2, -1));
                break;
            case "Tile":
                y = b.Op("Tile", k.Batched(k.Input("x", [2, 3, 2])), b.Ints(1, 2, 3));
                break;
            case "Expand":
                y = b.Op("Expand", k.Batched(k.Input("x", [2, 1, 3])), b.Ints(1, 4, 1));
                break;
            case "ResizeNearest":
                y = b.Op("Resize", [k.Batched(k.Input("x", [2, 3, 4, 5])), null, b.Floats([4], [1, 1, 2, 3])], Attr.String("mode", "nearest"));
                break;
            case "ResizeLinearNchw":
                y = b.Op("Resize", [k.Batched(k.Input("x", [2, 3, 4, 5])), null, b.Floats([4], [1, 1, 1.5f, 2])], Attr.String("mode", "linear"));
                break;
            case "ResizeLinearNhwc":
                y = b.Op("Resize", [k.Batched(k.Input("x", [2, 4, 5, 3])), null, b.Floats([4], [1, 2, 1.5f, 1])], Attr.String("mode", "linear"));
                break;
            case "LayerNormalization":
                y = b.Op("LayerNormalization", [k.Batched(k.Input("x", [2, 3, 5])), b.Floats([5], [1, 0.5f, 2, 1, 1.5f])], Attr.Int("axis", 1));
                break;
            case "InstanceNormalization":
                y = b.Op("InstanceNormalization", k.Batched(k.Input("x", [2, 3, 5])), b.Floats([3], [1, 0.5f, 2]), b.Floats([3], [0, 1, -1]));
                break;
            case "ConvTranspose":
                y = b.Op("ConvTranspose", [k.Batched(k.Input("x", [2, 3, 4, 4])), k.Input("w", [3, 2, 3, 3])],
                    Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 0, 1, 1]), Attr.Ints("output_padding", [1, 0]));
                only.Add("w");
                break;
            case "SoftmaxCrossEntropyLoss":
                y = b.Op("SoftmaxCrossEntropyLoss", [k.Batched(k.Input("x", [2, 4])), Selector([2, 4], 1, false)]);
                break;
            default:
                y = b.Reduce("ReduceMax", k.Batched(k.DistinctInput("x", [2, 3, 4])), [0, 2], keepDims: false);
                break;
        }
        k.Output(b.Mul(y, y));
        Assert.That(k.Check(epsilon: 1e-3, only: only), Is.LessThan(Tolerance));
    }
}
