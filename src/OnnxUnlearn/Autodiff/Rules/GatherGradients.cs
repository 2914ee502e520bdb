using OnnxUnlearn.Ir;
using static OnnxUnlearn.Autodiff.Rules.RuleHelpers;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>
/// Indexing and selection: Gather (embeddings), GatherElements, GatherND and TopK. Their
/// gradients scatter dY back to the positions read, adding where an index repeats (a token that
/// occurs twice). Indices have no gradient.
/// </summary>
internal static class GatherGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("Gather", Gather);
        r.Add("GatherElements", GatherElements);
        r.Add("GatherND", GatherND);
        r.Add("TopK", TopK, (_, opset) => opset < 9 ? "the gradient needs Scatter, which ONNX has from opset 9 (convert the model to opset 9 or later)" : null);
    }

    // Y = Gather(X, idx, axis): Y[p, i, q] = X[p, idx[i], q], X viewed as [P, A, Q], idx flattened to n.
    //   dX[p, a, q] = Σ_{i: idx[i] = a} dY[p, i, q]
    // The axis is moved to the front (Transpose), dY flattened to rows [n, P·Q] and scatter-added
    // into [A, P·Q] (ScatterAddRows), then reshaped and transposed back.
    private static void Gather(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var rank = c.RankOf(x);
        var axis = Axis(c.GetInt("axis", 0), rank);
        var indexRank = c.RankOf(c.I(1));
        var dY = c.GO(0)!;

        // dY axes: [pre (axis), idx (indexRank), post]; bring idx to the front.
        if (axis > 0)
            dY = b.Transpose(dY, [.. Range(axis, axis + indexRank), .. Range(0, axis), .. Range(axis + indexRank, rank - 1 + indexRank)]);
        var rows = b.Reshape(AsInt64(b, c.I(1)), b.Ints(-1));
        var updates = b.Op("Flatten", [dY], Attr.Int("axis", indexRank));
        var size = c.ShapeOf(x)[axis];
        if (size < 0 && c.Opset < 9)
            throw new UserInputException($"{c.Node.Describe()}: gathering along an axis whose size varies with the batch needs opset 9 or later for its gradient");
        var depth = size >= 0 ? b.Ints(size) : b.Op("Gather", [b.Shape(x), b.Ints(axis)], Attr.Int("axis", 0));
        var scattered = ScatterAddRows(c, rows, updates, depth);
        if (axis == 0)
        {
            c.SetGI(0, b.Reshape(scattered, b.Shape(x)));
            return;
        }
        long[] front = [axis, .. Range(0, axis), .. Range(axis + 1, rank)];
        var shaped = b.Reshape(scattered, b.Op("Gather", [b.Shape(x), b.Ints(front)], Attr.Int("axis", 0)));
        c.SetGI(0, b.Transpose(shaped, Inverse(front)));
    }

    // Y = GatherElements(X, idx, axis): Y[..., j, ...] = X[..., idx[..., j, ...], ...]
    //   dX = ScatterElements(zeros(X), idx, dY, axis, reduction=add)               (opset ≥ 16)
    //   dX = Σ_j OneHot(idx, A)[..., j, a, ...] · dY[..., j, ...], padded to X     (opset 11–15)
    private static void GatherElements(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var rank = c.RankOf(x);
        var axis = Axis(c.GetInt("axis", 0), rank);
        var dY = c.GO(0)!;
        var indices = c.I(1);
        if (c.Opset >= 16)
        {
            c.SetGI(0, b.Op("ScatterElements", [b.ZerosLike(x), indices, dY], Attr.Int("axis", axis), Attr.String("reduction", "add")));
            return;
        }
        var depth = b.Op("Gather", [b.Shape(x), b.Ints(axis)], Attr.Int("axis", 0));
        var oneHot = b.Op("OneHot", [AsInt64(b, indices), depth, b.Floats([2], [0f, 1f])], Attr.Int("axis", axis + 1));
        var summed = b.ReduceSum(b.Mul(oneHot, b.Unsqueeze(dY, axis + 1)), [axis], keepDims: false);
        // idx may be smaller than X on the other axes: zero-extend at the end.
        var xDims = c.ShapeOf(x);
        var iDims = c.ShapeOf(indices);
        var pads = new long[2 * rank];
        for (var a = 0; a < rank; a++)
            if (a != axis && xDims[a] >= 0 && iDims[a] >= 0)
                pads[rank + a] = xDims[a] - iDims[a];
        c.SetGI(0, pads.Any(p => p != 0) ? b.Pad(summed, pads) : summed);
    }

    // Y = GatherND(X, idx, batch_dims=b): X = [B..., I (k axes)..., R...], idx = [B..., M..., k],
    // Y = [B..., M..., R...]. Each index row picks one row of X viewed as [B·I, R]:
    //   row = batch_position·|I| + Σ_j idx_j·stride_j   (negative idx_j wrap by I_j)
    //   dX = ScatterAddRows(rows, dY as [n, R]) reshaped to X.
    private static void GatherND(GradientContext c)
    {
        var b = c.B;
        var x = c.I(0);
        var xDims = c.ShapeOf(x);
        var iDims = c.ShapeOf(c.I(1));
        var batchDims = (int)c.GetInt("batch_dims", 0);
        var k = (int)iDims[^1];
        if (k < 0)
            throw new UserInputException($"{c.Node.Describe()}: the last dimension of the indices must be fixed");
        var indexed = xDims[batchDims..(batchDims + k)];
        if (indexed.Any(d => d < 0))
            throw new UserInputException($"{c.Node.Describe()}: the indexed dimensions of the data must be fixed");
        var strides = new long[k];
        long indexedSize = 1;
        for (var j = k - 1; j >= 0; j--)
        {
            strides[j] = indexedSize;
            indexedSize *= indexed[j];
        }

        var idx = AsInt64(b, c.I(1));
        var zero = b.IntScalar(0);
        idx = b.Where(b.Op("Less", idx, zero), b.Add(idx, b.Ints(indexed)), idx);
        var rows = b.ReduceSum(b.Mul(idx, b.Ints(strides)), [-1], keepDims: false);
        Value depth = b.Ints(indexedSize);
        if (batchDims > 0)
        {
            // position of each index row's batch element, broadcast over the M axes
            var batchShape = b.Slice(b.Shape(x), [0], [batchDims], [0]);
            var batchCount = b.Reduce("ReduceProd", batchShape, [0], keepDims: true);
            var positions = b.Op("Range", zero, b.Reshape(batchCount, b.Ints()), b.IntScalar(1));
            var m = iDims.Length - 1 - batchDims;
            var grid = b.Reshape(b.Mul(positions, b.IntScalar(indexedSize)), b.Concat(0, batchShape, b.Ints(Enumerable.Repeat(1L, m).ToArray())));
            rows = b.Add(rows, grid);
            depth = b.Mul(batchCount, b.Ints(indexedSize));
        }
        var updates = b.Op("Flatten", [c.GO(0)!], Attr.Int("axis", iDims.Length - 1));
        var scattered = ScatterAddRows(c, b.Reshape(rows, b.Ints(-1)), updates, depth);
        c.SetGI(0, b.Reshape(scattered, b.Shape(x)));
    }

    // Values, Indices = TopK(X, k, axis): the picked positions are distinct along the axis, so
    //   dX = ScatterElements(zeros(X), Indices, dValues, axis)
    private static void TopK(GradientContext c)
    {
        var rank = c.RankOf(c.I(0));
        var axis = Axis(c.GetInt("axis", -1), rank);
        c.SetGI(0, c.B.ScatterElements(c.B.ZerosLike(c.I(0)), c.O(1), c.GO(0)!, axis));
    }
}
