using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// Kernel, strides, dilations and explicit begin/end pads of a Conv or pooling node over its
/// spatial axes, with auto_pad (SAME_UPPER, SAME_LOWER, VALID) resolved from the input's
/// static spatial size.
/// </summary>
internal sealed record ConvGeometry(long[] Kernel, long[] Strides, long[] Dilations, long[] PadsBegin, long[] PadsEnd)
{
    public int Rank => Kernel.Length;

    public long[] Pads => [.. PadsBegin, .. PadsEnd];

    /// <summary>Effective kernel extent d·(k − 1) + 1 per axis.</summary>
    public long Extent(int axis) => Dilations[axis] * (Kernel[axis] - 1) + 1;

    public static ConvGeometry Of(Node node, long[] kernel, long[] inputSpatial)
    {
        var rank = kernel.Length;
        var strides = node.GetInts("strides") ?? Enumerable.Repeat(1L, rank).ToArray();
        var dilations = node.GetInts("dilations") ?? Enumerable.Repeat(1L, rank).ToArray();
        var pads = node.GetInts("pads") ?? new long[2 * rank];
        var begin = pads[..rank];
        var end = pads[rank..];
        var autoPad = node.GetString("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            for (var a = 0; a < rank; a++)
            {
                var output = (inputSpatial[a] + strides[a] - 1) / strides[a];
                var total = Math.Max(0, (output - 1) * strides[a] + dilations[a] * (kernel[a] - 1) + 1 - inputSpatial[a]);
                var small = total / 2;
                (begin[a], end[a]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (autoPad == "VALID")
        {
            begin = new long[rank];
            end = new long[rank];
        }
        return new ConvGeometry(kernel, strides, dilations, begin, end);
    }

    public IEnumerable<AttributeProto> Attributes(bool swapStridesAndDilations = false)
    {
        yield return Attr.Ints("strides", swapStridesAndDilations ? Dilations : Strides);
        yield return Attr.Ints("dilations", swapStridesAndDilations ? Strides : Dilations);
        yield return Attr.Ints("pads", Pads);
    }
}
