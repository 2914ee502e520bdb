using OnnxUnlearn.Ir;
using static OnnxUnlearn.Autodiff.Rules.RuleHelpers;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// Resize (opset 10+) and the older Upsample. Every mode this covers (nearest, linear, cubic) is a
/// linear map applied axis by axis: Y = X ×_a M_a for each resized axis a, with M_a [out, in]
/// holding the interpolation weights. So dX = dY ×_a M_aᵀ, axis by axis. The weights are computed
/// here exactly as ONNX Runtime computes them (its coordinate transforms in float arithmetic, its
/// rounding and clamping), from the static input and output sizes. Nearest resizing by an
/// integer factor f (every output o reads input o / f) is summed without a matrix: dY viewed as
/// [..., in, f, ...] summed over f.
/// </summary>
internal static class ResizeGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("Resize", Resize, Check);
        r.Add("Upsample", Resize, Check);
    }

    private static string? Check(Node node, int opset)
    {
        var mode = node.GetString("mode", "nearest");
        if (mode is not ("nearest" or "linear" or "cubic"))
            return $"mode '{mode}' is not supported";
        if (node.OpType == "Resize" && opset >= 11)
        {
            var transform = node.GetString("coordinate_transformation_mode", "half_pixel");
            if (transform == "tf_crop_and_resize")
                return "coordinate_transformation_mode 'tf_crop_and_resize' is not supported";
            if (node.GetInt("antialias", 0) != 0)
                return "antialias=1 is not supported";
            if (node.GetString("keep_aspect_ratio_policy", "stretch") != "stretch")
                return $"keep_aspect_ratio_policy '{node.GetString("keep_aspect_ratio_policy", "stretch")}' is not supported (only stretch)";
            if (InputAt(node, 3) is null && !IsConstantOrAbsent(InputAt(node, 2)))
                return "scales computed at run time are not supported (they must be a constant, or use sizes)";
        }
        else if (!IsConstantOrAbsent(InputAt(node, 1)))
        {
            return "scales computed at run time are not supported (they must be a constant)";
        }
        return null;
    }

    private sealed record Settings(string Mode, string Transform, string NearestMode, float CubicA, bool ExcludeOutside);

    private static void Resize(GradientContext c)
    {
        var node = c.Node;
        var inDims = c.ShapeOf(c.I(0));
        var outDims = c.ShapeOf(c.O(0));
        var rank = inDims.Length;
        var modern = node.OpType == "Resize" && c.Opset >= 11;
        var settings = new Settings(
            node.GetString("mode", "nearest"),
            modern ? node.GetString("coordinate_transformation_mode", "half_pixel") : "asymmetric",
            modern ? node.GetString("nearest_mode", "round_prefer_floor") : "simple",
            node.GetFloat("cubic_coeff_a", -0.75f),
            node.GetInt("exclude_outside", 0) != 0);
        var scales = Scales(c, inDims, outDims, modern);

        var grad = c.GO(0)!;
        if (inDims.SequenceEqual(outDims))
        {
            // the runtime copies X when no size changes
            c.SetGI(0, grad);
            return;
        }

        var matrices = new Dictionary<int, float[,]>();
        var factors = new long[rank];
        for (var a = 0; a < rank; a++)
        {
            factors[a] = 1;
            if (scales[a] == 1f) continue;
            if (inDims[a] < 0 || outDims[a] < 0)
                throw new UserInputException($"{node.Describe()}: resizing axis {a}, whose size varies with the batch, is not supported");
            var m = Weights(settings, scales[a], inDims[a], outDims[a]);
            if (IntegerNearestFactor(m, inDims[a], outDims[a]) is { } f)
                factors[a] = f;
            else
                matrices[a] = m;
        }

        // integer nearest factors: dY as [..., in_a, f_a, ...] summed over the f axes
        if (factors.Any(f => f != 1))
        {
            var view = new List<long>();
            var sumAxes = new List<long>();
            var current = new long[rank];
            for (var a = 0; a < rank; a++)
            {
                current[a] = factors[a] != 1 ? inDims[a] : outDims[a];
                view.Add(current[a]);
                if (factors[a] == 1) continue;
                sumAxes.Add(view.Count);
                view.Add(factors[a]);
            }
            grad = c.B.ReduceSum(c.B.Reshape(grad, ShapeConstant(c, [.. view])), [.. sumAxes], keepDims: false);
            outDims = current;
        }

        // the other axes: contract with M_a over the output index
        foreach (var (a, m) in matrices.OrderByDescending(p => p.Key))
        {
            var (n, k) = (outDims[a], inDims[a]);
            if (a == rank - 1)
            {
                grad = c.B.Op("MatMul", grad, c.B.Floats([n, k], Flatten(m, transpose: false)));
            }
            else
            {
                // [P, out, Q] ← Mᵀ [in, out] · [P, out, Q]
                var q = Product(outDims[(a + 1)..]);
                var viewed = c.B.Reshape(grad, ShapeConstant(c, [-1, n, q]));
                grad = c.B.Op("MatMul", c.B.Floats([k, n], Flatten(m, transpose: true)), viewed);
                outDims = [.. outDims[..a], k, .. outDims[(a + 1)..]];
                grad = c.B.Reshape(grad, ShapeConstant(c, outDims));
                continue;
            }
            outDims = [.. outDims[..a], k, .. outDims[(a + 1)..]];
        }
        c.SetGI(0, grad);
    }

    /// <summary>The scale per axis: the constant scales (mapped through opset 18's axes), else
    /// out/in from sizes.</summary>
    private static float[] Scales(GradientContext c, long[] inDims, long[] outDims, bool modern)
    {
        var rank = inDims.Length;
        float[]? given = null;
        if (c.Node.OpType == "Upsample" && c.Node.GetFloats("scales") is { } attribute)
            given = attribute;
        else if (InputAt(c.Node, modern ? 2 : 1) is { } scalesInput && TryConstantFloats(scalesInput) is { Length: > 0 } constant)
            given = constant;
        var scales = new float[rank];
        if (given is not null)
        {
            Array.Fill(scales, 1f);
            var axes = c.Node.GetInts("axes") ?? Range(0, rank);
            for (var i = 0; i < axes.Length; i++) scales[Axis(axes[i], rank)] = given[i];
            return scales;
        }
        for (var a = 0; a < rank; a++)
            scales[a] = inDims[a] == outDims[a] ? 1f : (float)outDims[a] / inDims[a];
        return scales;
    }

    /// <summary>The interpolation weights [out, in] of one axis.</summary>
    private static float[,] Weights(Settings s, float scale, long inSize, long outSize)
    {
        var m = new float[outSize, inSize];
        for (var o = 0; o < outSize; o++)
        {
            var x = Original(s.Transform, o, scale, outSize, inSize);
            switch (s.Mode)
            {
                case "nearest":
                    m[o, Math.Clamp(Nearest(s.NearestMode, x, scale < 1), 0, inSize - 1)] += 1f;
                    break;
                case "linear":
                {
                    var clamped = Math.Max(0f, Math.Min(x, inSize - 1));
                    var x1 = Math.Min((long)clamped, inSize - 1);
                    var x2 = Math.Min(x1 + 1, inSize - 1);
                    var (d1, d2) = x1 == x2 ? (0.5f, 0.5f) : (Math.Abs(clamped - x1), Math.Abs(clamped - x2));
                    m[o, x1] += d2;
                    m[o, x2] += d1;
                    break;
                }
                default:
                {
                    var xInt = (long)Math.Floor(x);
                    var coefficients = CubicCoefficients(x - xInt, s.CubicA);
                    var sum = 1f;
                    if (s.ExcludeOutside)
                    {
                        sum = 0;
                        for (var i = 0; i < 4; i++)
                        {
                            var tap = xInt - 1 + i;
                            if (tap < 0 || tap >= inSize) coefficients[i] = 0;
                            sum += coefficients[i];
                        }
                    }
                    for (var i = 0; i < 4; i++)
                        m[o, Math.Clamp(xInt - 1 + i, 0, inSize - 1)] += coefficients[i] / sum;
                    break;
                }
            }
        }
        return m;
    }

    /// <summary>The input coordinate of output index <paramref name="o"/> (ONNX Runtime's float arithmetic).</summary>
    private static float Original(string transform, long o, float scale, long outSize, long inSize)
    {
        if (scale == 1f) return o;
        float x = o, lengthResized = outSize, lengthOriginal = inSize;
        return transform switch
        {
            "asymmetric" => x / scale,
            "pytorch_half_pixel" => lengthResized > 1 ? (x + 0.5f) / scale - 0.5f : 0f,
            "tf_half_pixel_for_nn" => (x + 0.5f) / scale,
            "align_corners" => lengthResized == 1 ? 0 : x * (lengthOriginal - 1) / (lengthResized - 1),
            "half_pixel_symmetric" => HalfPixelSymmetric(x, scale, lengthResized, lengthOriginal),
            _ => (x + 0.5f) / scale - 0.5f,
        };
    }

    private static float HalfPixelSymmetric(float x, float scale, float lengthResized, float lengthOriginal)
    {
        var outputWidth = scale * lengthOriginal;
        var adjustment = lengthResized / outputWidth;
        var center = lengthOriginal / 2;
        var offset = center * (1 - adjustment);
        return (float)(offset + (x + 0.5) / scale - 0.5);
    }

    private static long Nearest(string mode, float x, bool downsampling) => mode switch
    {
        "simple" => downsampling ? (long)MathF.Ceiling(x) : (long)x,
        "round_prefer_ceil" => (long)MathF.Round(x, MidpointRounding.AwayFromZero),
        "floor" => (long)MathF.Floor(x),
        "ceil" => (long)MathF.Ceiling(x),
        _ => x == (long)x + 0.5f ? (long)MathF.Floor(x) : (long)MathF.Round(x, MidpointRounding.AwayFromZero),
    };

    /// <summary>Keys' cubic convolution weights of the taps at −1, 0, 1, 2 around the point.</summary>
    private static float[] CubicCoefficients(float s, float a)
    {
        var t = Math.Abs(s);
        return
        [
            ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
            ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
        ];
    }

    /// <summary>f when every output o reads exactly input o / f (nearest upsampling by an integer).</summary>
    private static long? IntegerNearestFactor(float[,] m, long inSize, long outSize)
    {
        if (outSize % inSize != 0) return null;
        var f = outSize / inSize;
        for (var o = 0; o < outSize; o++)
            for (var i = 0; i < inSize; i++)
                if (m[o, i] != (i == o / f ? 1f : 0f)) return null;
        return f;
    }

    private static float[] Flatten(float[,] m, bool transpose)
    {
        var (rows, cols) = (m.GetLength(0), m.GetLength(1));
        var data = new float[rows * cols];
        for (var r = 0; r < rows; r++)
            for (var col = 0; col < cols; col++)
                data[transpose ? col * rows + r : r * cols + col] = m[r, col];
        return data;
    }
}
