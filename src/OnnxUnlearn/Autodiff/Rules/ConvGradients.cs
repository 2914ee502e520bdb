using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Convolution, any spatial rank, any group count (depthwise included).</summary>
internal static class ConvGradients
{
    public static void Register(GradientRegistry r) => r.Add("Conv", Conv);

    private static void Conv(GradientContext c)
    {
        var x = c.I(0);
        var w = c.I(1);
        var dY = c.GO(0)!;
        var xDims = c.ShapeOf(x);
        var wDims = c.ShapeOf(w);
        var yDims = c.ShapeOf(c.O(0));
        var rank = xDims.Length - 2;
        var g = ConvGeometry.Of(c.Node, wDims[2..], xDims[2..]);
        var group = c.Node.GetInt("group", 1);

        // dX = ConvTranspose(dY, W) with the forward strides, dilations, group and pads, and
        // output_padding = (H + pad_begin + pad_end − d·(k − 1) − 1) mod s per axis, which makes
        // the output exactly H (output_shape would let the runtime re-split the pads).
        if (c.Needs(0))
        {
            var outputPadding = Enumerable.Range(0, rank)
                .Select(a => (xDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a] - g.Extent(a)) % g.Strides[a]).ToArray();
            c.SetGI(0, c.B.Op("ConvTranspose", [dY, w],
                [.. g.Attributes(), Attr.Int("group", group), Attr.Ints("output_padding", outputPadding)]));
        }

        // dW[m, c', k] = Σ_n Σ_o X[n, g·Cg + c', o·s + k·d − pad] · dY[n, m, o] for m in group g.
        // As one Conv: the batch becomes the channel axis, dY becomes the filters, strides and
        // dilations swap roles:
        //   Xg  = X  [N, G, Cg, H...]  → [Cg, G·N, H...]
        //   dYg = dY [N, G, Mg, Ho...] → [G·Mg, N, Ho...]
        //   Conv(Xg, dYg, group=G, strides=d, dilations=s, pads=forward pads) → [Cg, M, k'...],
        //   sliced to the kernel size and transposed to [M, Cg, k...].
        if (c.Needs(1))
        {
            var cIn = xDims[1];
            var m = wDims[0];
            var cg = cIn / group;
            var mg = m / group;
            var spatial = Enumerable.Range(3, rank).Select(a => (long)a).ToArray();
            var xg = c.B.Reshape(x, c.B.Ints([-1, group, cg, .. xDims[2..]]));
            xg = c.B.Transpose(xg, [2, 1, 0, .. spatial]);
            xg = c.B.Reshape(xg, c.B.Ints([cg, -1, .. xDims[2..]]));
            var dYg = c.B.Reshape(dY, c.B.Ints([-1, group, mg, .. yDims[2..]]));
            dYg = c.B.Transpose(dYg, [1, 2, 0, .. spatial]);
            dYg = c.B.Reshape(dYg, c.B.Ints([m, -1, .. yDims[2..]]));
            var dW = c.B.Op("Conv", [xg, dYg], [.. g.Attributes(swapStridesAndDilations: true), Attr.Int("group", group)]);
            var produced = Enumerable.Range(0, rank)
                .Select(a => (xDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a] - g.Strides[a] * (yDims[a + 2] - 1) - 1) / g.Dilations[a] + 1).ToArray();
            if (produced.Where((size, a) => size != g.Kernel[a]).Any())
                dW = c.B.Slice(dW, new long[rank], g.Kernel, Enumerable.Range(2, rank).Select(a => (long)a).ToArray());
            c.SetGI(1, c.B.Transpose(dW, [1, 0, .. Enumerable.Range(2, rank).Select(a => (long)a)]));
        }

        // dB = Σ dY over every axis but the channel axis
        if (c.Needs(2))
            c.SetGI(2, c.B.ReduceSum(dY, [0, .. Enumerable.Range(2, rank).Select(a => (long)a)], keepDims: false));
    }
}
