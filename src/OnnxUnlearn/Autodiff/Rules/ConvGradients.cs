using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Convolution, any spatial rank, any group count (depthwise included).</summary>
internal static class ConvGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("Conv", Conv);
        r.Add("ConvTranspose", ConvTranspose);
    }

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

        if (c.Needs(0))
            c.SetGI(0, InputGradient(c, dY, w, xDims, wDims, g, group));

        // dW[m, c', k] = Σ_n Σ_o X[n, g·Cg + c', o·s + k·d − pad] · dY[n, m, o] for m in group g
        if (c.Needs(1))
        {
            c.SetGI(1, WeightGradient(c, x, dY, xDims, yDims, wDims, g, group, out var patches));
            if (patches is not null && !PatchesAreInput(g) && yDims[2..].Aggregate(1L, (a, b) => a * b) <= MaxPositionsForPatchForward)
                ForwardFromPatches(c, patches, yDims, wDims, group);
        }

        // dB = Σ dY over every axis but the channel axis
        if (c.Needs(2))
            c.SetGI(2, c.B.ReduceSum(dY, [0, .. Enumerable.Range(2, rank).Select(a => (long)a)], keepDims: false));
    }

    /// <summary>
    /// Below this many input channels a stride-1 conv's input gradient takes the ConvTranspose form:
    /// the Conv form's per-image GEMM then has too few rows. Measured on stock ONNX Runtime (CPU,
    /// 2 threads, tools/bench_conv.sh): the Conv form takes 0.3–0.5× ConvTranspose's time for 1×1
    /// and grouped convs, 0.5–0.7× for 8 to 32 channels at 14² to 28², 0.3–0.9× for depthwise 3×3,
    /// 0.8–1.2× for 64 to 512 channels, 2.3–3.5× for 1 or 3 input channels, and 0.8–1.7× (1.5–1.7×
    /// in two of three runs) for depthwise convs with a channel multiplier, which keep ConvTranspose too.
    /// </summary>
    private const long MinChannelsForConvForm = 8;

    /// <summary>
    /// dX of Conv(X, W) given dY. With every stride 1 and pads within the kernel's extent it is the
    /// Conv of dY with W flipped and its channel axes swapped per group, padded to make the output X:
    ///   dX = Conv(dY, W'), W'[g·Cg + c, m, k] = W[g·Mg + m, c, K − 1 − k],
    ///        pads' = d·(k − 1) − pads per side, the forward dilations and group.
    /// Otherwise dX = ConvTranspose(dY, W) with the forward strides, dilations, group and pads, and
    /// output_padding = (H + pad_begin + pad_end − d·(k − 1) − 1) mod s per axis, which makes the
    /// output exactly H (output_shape would let the runtime re-split the pads).
    /// </summary>
    private static Value InputGradient(GradientContext c, Value dY, Value w, long[] xDims, long[] wDims, ConvGeometry g, long group)
    {
        var rank = xDims.Length - 2;
        var spatialAxes = Enumerable.Range(2, rank).Select(a => (long)a).ToArray();
        var pointwise = g.Kernel.All(k => k == 1);
        var (mg, cg) = (wDims[0] / group, wDims[1]);
        var convForm = g.Strides.All(s => s == 1) && xDims[1] >= MinChannelsForConvForm && !(cg == 1 && mg > 1)
            && g.Pads.Select((p, i) => p <= g.Extent(i % rank) - 1).All(within => within);
        if (!convForm)
        {
            var outputPadding = Enumerable.Range(0, rank)
                .Select(a => (xDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a] - g.Extent(a)) % g.Strides[a]).ToArray();
            return c.B.Op("ConvTranspose", [dY, w],
                [.. g.Attributes(), Attr.Int("group", group), Attr.Ints("output_padding", outputPadding)]);
        }
        var flipped = w;
        if (group == 1)
            flipped = c.B.Transpose(w, [1, 0, .. spatialAxes]);
        else if (mg == 1)
            flipped = c.B.Reshape(w, c.B.Ints([group * cg, mg, .. wDims[2..]]));
        else
        {
            flipped = c.B.Reshape(w, c.B.Ints([group, mg, cg, .. wDims[2..]]));
            flipped = c.B.Transpose(flipped, [0, 2, 1, .. spatialAxes.Select(a => a + 1)]);
            flipped = c.B.Reshape(flipped, c.B.Ints([group * cg, mg, .. wDims[2..]]));
        }
        if (!pointwise)
            flipped = c.B.Slice(flipped, Enumerable.Repeat(-1L, rank).ToArray(), Enumerable.Repeat(long.MinValue, rank).ToArray(),
                spatialAxes, Enumerable.Repeat(-1L, rank).ToArray(), [group * cg, mg, .. wDims[2..]]);
        var pads = Enumerable.Range(0, 2 * rank).Select(i => g.Extent(i % rank) - 1 - g.Pads[i]).ToArray();
        return c.B.Op("Conv", [dY, flipped], Attr.Ints("dilations", g.Dilations), Attr.Ints("pads", pads), Attr.Int("group", group));
    }

    /// <summary>
    /// At most this many output positions per image, a conv whose weight gradient extracts patches
    /// computes its output as a MatMul over those patches instead of running Conv. Measured on stock
    /// ONNX Runtime (CPU, 2 threads, tools/bench_conv.sh): the MatMul takes 0.3–0.9× Conv's time at
    /// 7² to 16² output positions (Conv's per-image im2col and GEMM are poorly shaped there), 0.7–0.95×
    /// at 20² and 1.0–1.2× at 28².
    /// </summary>
    private const long MaxPositionsForPatchForward = 256;

    // Y[n, g·Mg + m, o] = Σ_k W[g·Mg + m, k] · P[n, g, k, o] + B[g·Mg + m], every reader of Y reading
    // this product over the patches the weight gradient extracts anyway (the Conv node then dies).
    private static void ForwardFromPatches(GradientContext c, Value patches, long[] yDims, long[] wDims, long group)
    {
        var weights = c.B.Reshape(c.I(1), c.B.Ints([group, wDims[0] / group, -1]));
        var y = c.B.Reshape(c.B.Op("MatMul", weights, patches), c.B.Ints([-1, .. yDims[1..]]));
        if (c.HasInput(2))
            y = c.B.Add(y, c.B.Reshape(c.I(2), c.B.Ints([wDims[0], .. Enumerable.Repeat(1L, yDims.Length - 2)])));
        c.O(0).ReplaceAllUsesWith(y);
    }

    /// <summary>
    /// The weight gradient of Conv(input, W) with geometry <paramref name="g"/>, given the gradient of
    /// its output: dW[m, c', k] = Σ_n Σ_o In[n, g·Cg + c', o·s + k·d − pad] · dOut[n, m, o], m in group g.
    /// Depthwise convs (several groups of one input channel each) take the Conv form, the others the
    /// patch form: measured on stock ONNX Runtime (CPU, 2 threads, batch 256), the patch form is 2–6×
    /// faster for group-1 3×3 and 1×1 convs (3.2× for a 1-channel stem) and the Conv form 1.5× faster
    /// for depthwise 3×3 convs.
    /// <paramref name="patches"/> is the patch form's P, null for the Conv form.
    /// </summary>
    private static Value WeightGradient(GradientContext c, Value input, Value outputGrad, long[] inDims, long[] outDims,
        long[] wDims, ConvGeometry g, long group, out Value? patches)
    {
        patches = group > 1 && inDims[1] == group ? null : Patches(c, input, inDims, outDims, g, group);
        return patches is null
            ? WeightGradientAsConv(c, input, outputGrad, inDims, outDims, g, group)
            : WeightGradientFromPatches(c, patches, outputGrad, outDims, wDims, group);
    }

    /// <summary>Whether a conv's patches are its input itself: a 1×1 kernel, stride 1, no pads.</summary>
    private static bool PatchesAreInput(ConvGeometry g) =>
        g.Kernel.All(k => k == 1) && g.Strides.All(s => s == 1) && g.Pads.All(p => p == 0);

    /// <summary>
    /// The patches P[n, g, (c', k), o] = In[n, g·Cg + c', o·s + k·d − pad] of a conv's input: one Conv
    /// of In with the constant one-hot kernel E[(c, k), 0, k'] = [k' = k] (group = Cin, the forward
    /// strides, dilations and pads), reshaped to [N, G, Cg·K, O] with K = Π kernel and O output
    /// positions. P holds K values per input value: the price of the speed is that much transient memory.
    /// </summary>
    internal static Value Patches(GradientContext c, Value input, long[] inDims, long[] outDims, ConvGeometry g, long group)
    {
        var rank = inDims.Length - 2;
        var cIn = inDims[1];
        var kernelSize = g.Kernel.Aggregate(1L, (a, b) => a * b);
        var positions = outDims[2..].Aggregate(1L, (a, b) => a * b);
        var patches = input;
        if (!PatchesAreInput(g))
        {
            patches = c.B.Op("Conv", [input, PatchKernel(c.B, cIn, g.Kernel)], [.. g.Attributes(), Attr.Int("group", cIn)]);
            var produced = Enumerable.Range(0, rank)
                .Select(a => (inDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a] - g.Extent(a)) / g.Strides[a] + 1).ToArray();
            if (produced.Where((size, a) => size != outDims[a + 2]).Any())
                patches = c.B.Slice(patches, new long[rank], outDims[2..], Enumerable.Range(2, rank).Select(a => (long)a).ToArray());
        }
        return c.B.Reshape(patches, c.B.Ints([-1, group, cIn / group * kernelSize, positions]));
    }

    /// <summary>The one-hot kernel E[(c, k), 0, k'] = [k' = k] [channels·K, 1, kernel...] that a Conv
    /// with group = channels turns into patches.</summary>
    internal static Value PatchKernel(GraphBuilder b, long channels, long[] kernel)
    {
        var kernelSize = kernel.Aggregate(1L, (p, k) => p * k);
        var oneHot = new float[channels * kernelSize * kernelSize];
        for (var channel = 0L; channel < channels; channel++)
            for (var k = 0L; k < kernelSize; k++)
                oneHot[(channel * kernelSize + k) * kernelSize + k] = 1;
        return b.Floats([channels * kernelSize, 1, .. kernel], oneHot);
    }

    /// <summary>
    /// Patch form of the weight gradient: per group g, with Mg output channels,
    ///   dW[g, m', (c', k)] = Σ_n (P[n, g, (c', k), O] · dOut[n, g, m', O]ᵀ)ᵀ
    /// a batched MatMul over (n, g), a ReduceSum over n and a Transpose.
    /// </summary>
    private static Value WeightGradientFromPatches(GradientContext c, Value patches, Value outputGrad, long[] outDims, long[] wDims, long group)
    {
        var positions = outDims[2..].Aggregate(1L, (a, b) => a * b);
        var dY = c.B.Reshape(outputGrad, c.B.Ints([-1, group, wDims[0] / group, positions]));
        var products = c.B.Op("MatMul", patches, c.B.Transpose(dY, [0, 1, 3, 2]));
        var dW = c.B.Transpose(c.B.ReduceSum(products, [0], keepDims: false), [0, 2, 1]);
        return c.B.Reshape(dW, c.B.Ints(wDims));
    }

    /// <summary>
    /// Conv form: the batch becomes the channel axis, dOut becomes the filters, strides and
    /// dilations swap roles:
    ///   Ing   = In   [N, G, Cg, H...]  → [Cg, G·N, H...]
    ///   dOutg = dOut [N, G, Mg, Ho...] → [G·Mg, N, Ho...]
    ///   Conv(Ing, dOutg, group=G, strides=d, dilations=s, pads=forward pads) → [Cg, M, k'...],
    ///   sliced to the kernel size and transposed to [M, Cg, k...].
    /// </summary>
    private static Value WeightGradientAsConv(GradientContext c, Value input, Value outputGrad, long[] inDims, long[] outDims,
        ConvGeometry g, long group)
    {
        var rank = inDims.Length - 2;
        var cg = inDims[1] / group;
        var mg = outDims[1] / group;
        var spatial = Enumerable.Range(3, rank).Select(a => (long)a).ToArray();
        var xg = c.B.Reshape(input, c.B.Ints([-1, group, cg, .. inDims[2..]]));
        xg = c.B.Transpose(xg, [2, 1, 0, .. spatial]);
        xg = c.B.Reshape(xg, c.B.Ints([cg, -1, .. inDims[2..]]));
        var dYg = c.B.Reshape(outputGrad, c.B.Ints([-1, group, mg, .. outDims[2..]]));
        dYg = c.B.Transpose(dYg, [1, 2, 0, .. spatial]);
        dYg = c.B.Reshape(dYg, c.B.Ints([outDims[1], -1, .. outDims[2..]]));
        var dW = c.B.Op("Conv", [xg, dYg], [.. g.Attributes(swapStridesAndDilations: true), Attr.Int("group", group)]);
        var produced = Enumerable.Range(0, rank)
            .Select(a => (inDims[a + 2] + g.PadsBegin[a] + g.PadsEnd[a] - g.Strides[a] * (outDims[a + 2] - 1) - 1) / g.Dilations[a] + 1).ToArray();
        if (produced.Where((size, a) => size != g.Kernel[a]).Any())
            dW = c.B.Slice(dW, new long[rank], g.Kernel, Enumerable.Range(2, rank).Select(a => (long)a).ToArray());
        return c.B.Transpose(dW, [1, 0, .. Enumerable.Range(2, rank).Select(a => (long)a)]);
    }

    // Y = ConvTranspose(X, W [Cin, Cout/G, k...], B) is the adjoint of Conv(·, W) with the same
    // strides, dilations, group and (effective) pads, so
    //   dX = Conv(dY, W, same attributes)                       (cropped to X if output_padding ≥ stride)
    //   dW = the Conv weight gradient with input dY and output gradient X
    //   dB = Σ dY over every axis but the channel axis
    // The effective pads are the runtime's: explicit pads, or, with output_shape or SAME_*, a total of
    // s·(in − 1) + output_padding + d·(k − 1) + 1 − out split as the ONNX spec says (and ONNX
    // Runtime 1.31 does): the larger half last for SAME_UPPER, first otherwise (NOTSET included).
    private static void ConvTranspose(GradientContext c)
    {
        var x = c.I(0);
        var w = c.I(1);
        var dY = c.GO(0)!;
        var xDims = c.ShapeOf(x);
        var wDims = c.ShapeOf(w);
        var yDims = c.ShapeOf(c.O(0));
        var rank = xDims.Length - 2;
        var node = c.Node;
        var kernel = wDims[2..];
        var strides = node.GetInts("strides") ?? Enumerable.Repeat(1L, rank).ToArray();
        var dilations = node.GetInts("dilations") ?? Enumerable.Repeat(1L, rank).ToArray();
        var outputPadding = node.GetInts("output_padding") ?? new long[rank];
        var pads = node.GetInts("pads") ?? new long[2 * rank];
        var autoPad = node.GetString("auto_pad", "NOTSET");
        var group = node.GetInt("group", 1);
        var begin = pads[..rank];
        var end = pads[rank..];
        if (node.GetInts("output_shape") is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            for (var a = 0; a < rank; a++)
            {
                var total = Math.Max(0, strides[a] * (xDims[a + 2] - 1) + outputPadding[a] + dilations[a] * (kernel[a] - 1) + 1 - yDims[a + 2]);
                (begin[a], end[a]) = autoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2);
            }
        }
        else if (autoPad == "VALID")
        {
            begin = new long[rank];
            end = new long[rank];
        }
        var g = new ConvGeometry(kernel, strides, dilations, begin, end);

        if (c.Needs(0))
        {
            var dX = c.B.Op("Conv", [dY, w], [.. g.Attributes(), Attr.Int("group", group)]);
            var produced = Enumerable.Range(0, rank)
                .Select(a => (yDims[a + 2] + begin[a] + end[a] - g.Extent(a)) / strides[a] + 1).ToArray();
            if (produced.Where((size, a) => size != xDims[a + 2]).Any())
                dX = c.B.Slice(dX, new long[rank], xDims[2..], Enumerable.Range(2, rank).Select(a => (long)a).ToArray());
            c.SetGI(0, dX);
        }
        if (c.Needs(1))
            c.SetGI(1, WeightGradient(c, dY, x, yDims, xDims, wDims, g, group, out _));
        if (c.Needs(2))
            c.SetGI(2, c.B.ReduceSum(dY, [0, .. Enumerable.Range(2, rank).Select(a => (long)a)], keepDims: false));
    }
}
