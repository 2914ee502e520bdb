using OnnxUnlearn.Ir;
using static OnnxUnlearn.Autodiff.Rules.RuleHelpers;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Slice and Pad, each the other's adjoint. Their starts, ends, axes, steps and pads are
/// attributes before opsets 10 (Slice) and 11 (Pad), constant inputs after.</summary>
internal static class SliceGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("Slice", Slice, (node, opset) =>
            opset >= 10 && node.Inputs.Skip(1).Any(v => !IsConstantOrAbsent(v))
                ? "starts, ends, axes or steps computed at run time are not supported (they must be constants)"
                : null);
        r.Add("Pad", Pad, (node, opset) =>
        {
            var mode = node.GetString("mode", "constant");
            if (mode != "constant")
                return $"mode '{mode}' is not supported (only constant padding)";
            if (opset >= 11 && (!IsConstantOrAbsent(InputAt(node, 1)) || !IsConstantOrAbsent(InputAt(node, 3))))
                return "pads or axes computed at run time are not supported (they must be constants)";
            return null;
        });
    }

    // Y = X[start : end : step] per sliced axis, n = |Y| along it.
    //   step 1:   dX = Pad(dY, begin = start, end = D − start − n)
    //   step s>1: dY is spread s apart first (Unsqueeze, zero-Pad the new axis to s, Reshape,
    //             drop the s − 1 trailing zeros), then padded as above.
    //   step <0:  X[start : end : −s] is Reverse(X)[D−1−start : ... : s]: the gradient of that
    //             positive-step slice, reversed (Slice with step −1).
    private static void Slice(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var xDims = c.ShapeOf(x);
        var rank = xDims.Length;
        long[] starts, ends, axes, steps;
        if (c.Opset < 10)
        {
            starts = c.Node.GetInts("starts")!;
            ends = c.Node.GetInts("ends")!;
            axes = c.Node.GetInts("axes") ?? Range(0, starts.Length);
            steps = [.. Enumerable.Repeat(1L, starts.Length)];
        }
        else
        {
            starts = ConstantInts(c.I(1));
            ends = ConstantInts(c.I(2));
            axes = c.HasInput(3) ? ConstantInts(c.I(3)) : Range(0, starts.Length);
            steps = c.HasInput(4) ? ConstantInts(c.I(4)) : [.. Enumerable.Repeat(1L, starts.Length)];
        }

        var grad = c.GO(0)!;
        var padsBegin = new long[rank];
        var padsEnd = new long[rank];
        var reversed = new List<long>();
        var current = c.ShapeOf(c.O(0)).ToArray(); // dims of grad as the axes are spread
        for (var i = 0; i < axes.Length; i++)
        {
            var axis = Axis(axes[i], rank);
            var size = xDims[axis];
            var step = steps[i];
            if (size < 0)
            {
                // a dim that varies with the batch can only be sliced whole
                if (starts[i] == 0 && ends[i] >= int.MaxValue && step == 1) continue;
                throw new UserInputException($"{c.Node.Describe()}: slicing axis {axis}, whose size varies with the batch, is not supported");
            }
            var (start, count) = GraphBuilder.SliceRange(starts[i], ends[i], step, size);
            if (count == 0)
            {
                c.SetGI(0, b.ZerosLike(x));
                return;
            }
            if (step < 0)
            {
                start = size - 1 - start;
                step = -step;
                reversed.Add(axis);
            }
            var extent = (count - 1) * step + 1;
            if (step > 1 && count > 1)
                grad = Spread(c, grad, current, axis, count, step, extent);
            current[axis] = extent;
            padsBegin[axis] = start;
            padsEnd[axis] = size - start - extent;
        }
        if (padsBegin.Any(p => p != 0) || padsEnd.Any(p => p != 0))
            grad = b.Pad(grad, [.. padsBegin, .. padsEnd]);
        if (reversed.Count > 0)
            grad = b.Slice(grad, [.. reversed.Select(_ => -1L)], [.. reversed.Select(_ => long.MinValue)], [.. reversed], [.. reversed.Select(_ => -1L)]);
        c.SetGI(0, grad);
    }

    /// <summary>Places the <paramref name="count"/> elements of <paramref name="grad"/> along
    /// <paramref name="axis"/> <paramref name="step"/> apart, zeros between: length (count − 1)·step + 1.</summary>
    private static Value Spread(GradientContext c, Value grad, long[] dims, int axis, long count, long step, long extent)
    {
        var b = c.B;
        var rank = dims.Length;
        var spaced = b.Unsqueeze(grad, axis + 1);
        var pads = new long[2 * (rank + 1)];
        pads[rank + 1 + axis + 1] = step - 1;
        spaced = b.Pad(spaced, pads);
        // Reshape target: 0 copies the leading dims (the batch among them), the merged axis is
        // count·step, the trailing dims are the gradient's (fixed, or -1 once).
        var target = new long[rank];
        for (var a = 0; a < rank; a++)
            target[a] = a < axis ? 0 : a == axis ? count * step : dims[a];
        spaced = b.Reshape(spaced, ShapeConstantKeepingZeros(c, target));
        return b.Slice(spaced, [0], [extent], [axis]);
    }

    private static Value ShapeConstantKeepingZeros(GradientContext c, long[] dims)
    {
        if (dims.Count(d => d < 0) > 1)
            throw new UserInputException($"{c.Node.Describe()}: more than one dimension varies with the batch; this gradient needs them fixed");
        return c.B.Ints(dims);
    }

    // Y = Pad(X, pads, value) in constant mode, pads = [begin_0..begin_n, end_0..end_n] (negative crops):
    //   dX = Slice(dY, begin, −end) over the padded parts, then zero-Pad where X was cropped
    //   dValue = ΣdY − Σ(the part of dY that came from X)
    private static void Pad(GradientContext c)
    {
        var b = c.B;
        var rank = c.RankOf(c.I(0));
        long[] pads;
        if (c.Opset < 11)
        {
            pads = c.Node.GetInts("pads") ?? c.Node.GetInts("paddings")!;
        }
        else
        {
            var given = ConstantInts(c.I(1));
            if (c.HasInput(3))
            {
                var axes = ConstantInts(c.I(3));
                pads = new long[2 * rank];
                for (var i = 0; i < axes.Length; i++)
                {
                    var axis = Axis(axes[i], rank);
                    pads[axis] = given[i];
                    pads[rank + axis] = given[axes.Length + i];
                }
            }
            else
            {
                pads = given;
            }
        }

        var dY = c.GO(0)!;
        var sliceAxes = new List<long>();
        var starts = new List<long>();
        var ends = new List<long>();
        for (var a = 0; a < rank; a++)
        {
            var (begin, end) = (pads[a], pads[rank + a]);
            if (begin <= 0 && end <= 0) continue;
            sliceAxes.Add(a);
            starts.Add(Math.Max(begin, 0));
            ends.Add(end > 0 ? -end : long.MaxValue);
        }
        var inner = sliceAxes.Count > 0 ? b.Slice(dY, [.. starts], [.. ends], [.. sliceAxes]) : dY;
        var grows = pads.Select(p => Math.Max(-p, 0)).ToArray();
        c.SetGI(0, grows.Any(p => p > 0) ? b.Pad(inner, grows) : inner);
        if (c.Opset >= 11 && c.Needs(2))
        {
            var all = Range(0, rank);
            var outside = b.Sub(b.ReduceSum(dY, all, keepDims: false), b.ReduceSum(inner, all, keepDims: false));
            c.SetGI(2, b.Reshape(outside, b.Shape(c.I(2))));
        }
    }
}
