using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Autodiff.Rules;

/// <summary>Constant inputs and small graph idioms several rule families share.</summary>
internal static class RuleHelpers
{
    /// <summary>True when the value is absent, an initializer or the output of a Constant node:
    /// what a registry check asks of inputs that the rule reads at build time.</summary>
    public static bool IsConstantOrAbsent(Value? value) =>
        value is null || value.Initializer is not null || value.Producer is { OpType: "Constant" };

    /// <summary>The input of <paramref name="node"/> at <paramref name="index"/> if present.</summary>
    public static Value? InputAt(Node node, int index) => index < node.Inputs.Count ? node.Inputs[index] : null;

    public static long[]? TryConstantInts(Value value)
    {
        if (value.Initializer is { } data) return data.ToInt64Array();
        if (value.Producer is not { OpType: "Constant" } p) return null;
        if (p.Attribute("value") is { } t) return new TensorData(t.T).ToInt64Array();
        if (p.Attribute("value_ints") is { } ints) return [.. ints.Ints];
        if (p.Attribute("value_int") is { } i) return [i.I];
        return null;
    }

    /// <summary>The dims of a constant (initializer or Constant node's tensor), else null.</summary>
    public static long[]? ConstantDims(Value value) =>
        value.Initializer?.Dims ?? (value.Producer is { OpType: "Constant" } p && p.Attribute("value") is { } t ? [.. t.T.Dims] : null);

    public static float[]? TryConstantFloats(Value value)
    {
        if (value.Initializer is { } data) return data.ToFloatArray();
        if (value.Producer is not { OpType: "Constant" } p) return null;
        if (p.Attribute("value") is { } t) return new TensorData(t.T).ToFloatArray();
        if (p.Attribute("value_floats") is { } floats) return [.. floats.Floats];
        if (p.Attribute("value_float") is { } f) return [f.F];
        return null;
    }

    public static long[] ConstantInts(Value value) =>
        TryConstantInts(value) ?? throw new UserInputException($"'{value.Name}' must be a constant");

    public static float[] ConstantFloats(Value value) =>
        TryConstantFloats(value) ?? throw new UserInputException($"'{value.Name}' must be a constant");

    /// <summary>A possibly negative axis made non-negative.</summary>
    public static int Axis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    /// <summary>The axes [from, to) as longs.</summary>
    public static long[] Range(int from, int to) => Enumerable.Range(from, Math.Max(0, to - from)).Select(a => (long)a).ToArray();

    public static long[] Inverse(IReadOnlyList<long> perm)
    {
        var inverse = new long[perm.Count];
        for (var i = 0; i < perm.Count; i++) inverse[perm[i]] = i;
        return inverse;
    }

    /// <summary>A float zero tensor of the shape held by the 1-D int64 <paramref name="shape"/>.</summary>
    public static Value Zeros(GraphBuilder b, Value shape) =>
        b.Op("ConstantOfShape", [shape], Attr.Tensor("value", TensorData.FromFloats("zero", [1], [0f]).Proto));

    /// <summary>A constant Reshape target for <paramref name="dims"/>, where -1 marks a dim only known at
    /// run time (it grows with the batch); Reshape can infer one such dim, not two.</summary>
    public static Value ShapeConstant(GradientContext c, long[] dims)
    {
        if (dims.Count(d => d < 0) > 1)
            throw new UserInputException($"{c.Node.Describe()}: more than one dimension of [{string.Join(",", dims)}] varies with the batch; this gradient needs them fixed");
        return c.B.Ints(dims.Select(d => d < 0 ? -1 : d).ToArray());
    }

    /// <summary>Product of dims, -1 when any is unknown.</summary>
    public static long Product(IEnumerable<long> dims)
    {
        long p = 1;
        foreach (var d in dims)
        {
            if (d < 0) return -1;
            p *= d;
        }
        return p;
    }

    /// <summary>Int64 cast of an index tensor unless it already is int64.</summary>
    public static Value AsInt64(GraphBuilder b, Value indices) =>
        indices.ElementType == DataType.Int64 ? indices : b.Cast(indices, DataType.Int64);

    /// <summary>The gradient <paramref name="gradient"/> restored to rank with the reduced axes as size 1.</summary>
    public static Value KeepDims(GradientContext c, Value gradient, long[] axes) =>
        c.Node.GetInt("keepdims", 1) == 0 && axes.Length > 0 ? c.B.Unsqueeze(gradient, axes) : gradient;

    /// <summary>
    /// Scatter-adds rows: out[rows[i], :] += updates[i, :] into a zero tensor [depth, R], where
    /// rows is int64 [n], updates [n, R] and depth a 1-element int64 tensor.
    /// From opset 16, ScatterElements(reduction=add) over indices broadcast along R (ORT runs it
    /// race-free: work is split along R, duplicates along the scatter axis stay in one thread;
    /// its ScatterND add is parallel over rows and can lose updates to duplicate rows).
    /// Before opset 16, OneHot(rows)ᵀ · updates as one Gemm (n × depth floats: fine for small
    /// vocabularies, costly for large ones; before opset 9 the one-hot needs a constant depth).
    /// </summary>
    public static Value ScatterAddRows(GradientContext c, Value rows, Value updates, Value depth)
    {
        var b = c.B;
        if (c.Opset >= 16)
        {
            var width = b.Slice(b.Shape(updates), [1], [2], [0]);
            var zeros = Zeros(b, b.Concat(0, depth, width));
            // int32 indices: the broadcast index tensor is as large as the updates
            var indices = b.ExpandLike(b.Unsqueeze(b.Cast(rows, DataType.Int32), 1), updates);
            return b.Op("ScatterElements", [zeros, indices, updates], Attr.Int("axis", 0), Attr.String("reduction", "add"));
        }
        return b.Gemm(b.OneHot(rows, depth), updates, transA: true);
    }
}
