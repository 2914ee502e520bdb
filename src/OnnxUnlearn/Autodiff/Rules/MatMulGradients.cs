using OnnxUnlearn.Ir;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Matrix products: the gradients are the transposed products, summed over broadcast
/// batch axes.</summary>
internal static class MatMulGradients
{
    public static void Register(GradientRegistry r)
    {
        r.Add("MatMul", MatMul);
        r.Add("Gemm", Gemm);
    }

    // Y = A·B with A [..., M, K], B [..., K, N]:
    // dA = dY·Bᵀ (summed to A's shape), dB = Aᵀ·dY (summed to B's shape).
    // A 2-D B under a batched A (dense layer on a sequence) folds the batch into the rows: dB = A2ᵀ·dY2.
    private static void MatMul(GradientContext c)
    {
        var a = c.I(0);
        var b = c.I(1);
        var dY = c.GO(0)!;
        var rankA = c.RankOf(a);
        var rankB = c.RankOf(b);
        if (rankA < 2 || rankB < 2)
            throw new UserInputException($"{c.Node.Describe()}: MatMul with a 1-D operand is not supported yet");
        if (c.Needs(0))
            c.SetGI(0, c.ReduceToShapeOf(c.B.Op("MatMul", dY, SwapLast(c, b, rankB)), a, c.O(0)));
        if (!c.Needs(1)) return;
        if (rankB == 2 && rankA > 2)
        {
            var k = c.ShapeOf(a)[^1];
            var n = c.ShapeOf(b)[^1];
            var a2 = c.B.Reshape(a, c.B.Ints(-1, k));
            var dY2 = c.B.Reshape(dY, c.B.Ints(-1, n));
            c.SetGI(1, c.B.Gemm(a2, dY2, transA: true));
        }
        else
        {
            c.SetGI(1, c.ReduceToShapeOf(c.B.Op("MatMul", SwapLast(c, a, rankA), dY), b, c.O(0)));
        }
    }

    private static Value SwapLast(GradientContext c, Value x, int rank)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return c.B.Transpose(x, perm);
    }

    // Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B.
    //   transA=0: dA = α·dY·B'ᵀ     transA=1: dA = α·B'·dYᵀ
    //   transB=0: dB = α·A'ᵀ·dY     transB=1: dB = α·dYᵀ·A'
    //   dC = β·dY summed to C's shape
    private static void Gemm(GradientContext c)
    {
        var dY = c.GO(0)!;
        var alpha = c.Node.GetFloat("alpha", 1f);
        var beta = c.Node.GetFloat("beta", 1f);
        var transA = c.Node.GetInt("transA", 0) != 0;
        var transB = c.Node.GetInt("transB", 0) != 0;
        var a = c.I(0);
        var b = c.I(1);
        Value Product(Value x, bool tx, Value y, bool ty) => c.B.Gemm(x, y, tx, ty, alpha);
        if (c.Needs(0))
            c.SetGI(0, transA ? Product(b, transB, dY, true) : Product(dY, false, b, !transB));
        if (c.Needs(1))
            c.SetGI(1, transB ? Product(dY, true, a, transA) : Product(a, !transA, dY, false));
        if (c.Needs(2))
        {
            var dC = c.ReduceToShapeOf(dY, c.I(2), c.O(0));
            c.SetGI(2, beta == 1f ? dC : c.B.Mul(dC, c.B.Scalar(beta)));
        }
    }
}
