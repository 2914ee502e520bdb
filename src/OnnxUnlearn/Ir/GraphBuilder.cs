using System.Runtime.InteropServices;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>
/// Emits nodes into a graph with one-line calls, in the form the graph's opset wants, from opset 7
/// (the oldest ONNX Runtime loads) to the newest: helpers such as <see cref="ReduceSum"/>,
/// <see cref="Unsqueeze"/> or <see cref="Slice"/> pass axes as an attribute or as an input
/// depending on the opset version, and ops that an old opset lacks (<see cref="Where"/>,
/// <see cref="OneHot"/>, <see cref="ZerosLike"/>, <see cref="ExpandLike"/>, <see cref="Sign"/>) or
/// only has in a narrower form or under another name (<see cref="Gemm"/>'s C, <see cref="FloatEqual"/>,
/// <see cref="Clip"/>'s bounds, strided <see cref="Slice"/>, <see cref="ScatterElements"/>,
/// <see cref="GatherElements"/>) are built from ops that the opset has. Code that emits
/// graphs calls these helpers rather than <see cref="Op(string, Value?[])"/> with one of those ops,
/// so that every graph is valid at the model's own opset. New nodes are named <c>{prefix}/{op}</c>
/// (made unique); constants are shared by content.
/// </summary>
public sealed class GraphBuilder(Graph graph, int opset, string prefix)
{
    private readonly Dictionary<string, Value> _constants = new(StringComparer.Ordinal);

    public Graph Graph { get; } = graph;
    public int Opset { get; } = opset;

    /// <summary>Name prefix of new nodes (change it to group nodes by what they serve).</summary>
    public string Prefix { get; set; } = prefix;

    public Value Op(string opType, params Value?[] inputs) => Op(opType, inputs, []);

    public Value Op(string opType, Value?[] inputs, params AttributeProto[] attributes) =>
        Graph.AddNode(opType, inputs, 1, attributes, $"{Prefix}/{opType}").Outputs[0];

    public IReadOnlyList<Value> OpMulti(string opType, Value?[] inputs, int outputCount, params AttributeProto[] attributes) =>
        Graph.AddNode(opType, inputs, outputCount, attributes, $"{Prefix}/{opType}").Outputs;

    public Value Add(Value a, Value b) => Op("Add", a, b);
    public Value Sub(Value a, Value b) => Op("Sub", a, b);
    public Value Mul(Value a, Value b) => Op("Mul", a, b);
    public Value Div(Value a, Value b) => Op("Div", a, b);
    public Value Neg(Value a) => Op("Neg", a);
    public Value Shape(Value a) => Op("Shape", a);
    public Value Reshape(Value a, Value shape) => Op("Reshape", a, shape);
    public Value Identity(Value a) => Op("Identity", a);

    public Value Transpose(Value a, IReadOnlyList<long> perm) => Op("Transpose", [a], Attr.Ints("perm", perm));

    public Value Cast(Value a, TensorProto.Types.DataType to) => Op("Cast", [a], Attr.Int("to", (long)to));

    /// <summary>A float32 scalar constant.</summary>
    public Value Scalar(float v) => Floats([], [v]);

    /// <summary>A float32 constant of the given dims.</summary>
    public Value Floats(long[] dims, float[] values)
    {
        var key = $"f[{string.Join(",", dims)}]:{Convert.ToBase64String(MemoryMarshal.AsBytes(values.AsSpan()))}";
        if (!_constants.TryGetValue(key, out var value))
            _constants[key] = value = Graph.AddInitializer(TensorData.FromFloats($"{Prefix}/const", dims, values));
        return value;
    }

    /// <summary>A 1-D int64 constant (shapes, axes, starts...).</summary>
    public Value Ints(params long[] values)
    {
        var key = $"i:{string.Join(",", values)}";
        if (!_constants.TryGetValue(key, out var value))
            _constants[key] = value = Graph.AddInitializer(TensorData.FromInt64s($"{Prefix}/ints", [values.Length], values));
        return value;
    }

    /// <summary>An int64 scalar constant.</summary>
    public Value IntScalar(long v)
    {
        var key = $"is:{v}";
        if (!_constants.TryGetValue(key, out var value))
            _constants[key] = value = Graph.AddInitializer(TensorData.FromInt64s($"{Prefix}/int", [], [v]));
        return value;
    }

    public Value ReduceSum(Value x, long[] axes, bool keepDims) =>
        Opset >= 13
            ? Op("ReduceSum", [x, Ints(axes)], Attr.Int("keepdims", keepDims ? 1 : 0))
            : Op("ReduceSum", [x], Attr.Ints("axes", axes), Attr.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>ReduceMean/ReduceMax/...: axes became an input at opset 18.</summary>
    public Value Reduce(string opType, Value x, long[] axes, bool keepDims) =>
        Opset >= 18
            ? Op(opType, [x, Ints(axes)], Attr.Int("keepdims", keepDims ? 1 : 0))
            : Op(opType, [x], Attr.Ints("axes", axes), Attr.Int("keepdims", keepDims ? 1 : 0));

    public Value Unsqueeze(Value x, params long[] axes) =>
        Opset >= 13 ? Op("Unsqueeze", x, Ints(axes)) : Op("Unsqueeze", [x], Attr.Ints("axes", axes));

    public Value Squeeze(Value x, params long[] axes) =>
        Opset >= 13 ? Op("Squeeze", x, Ints(axes)) : Op("Squeeze", [x], Attr.Ints("axes", axes));

    /// <summary>
    /// x[starts : ends : steps] along <paramref name="axes"/> (ONNX Slice semantics: negative
    /// indices count from the end, bounds are clamped). Steps became an input at opset 10; before,
    /// an axis with a step other than 1 is read with a Gather of the picked indices, which needs
    /// that axis's size from <paramref name="dims"/>.
    /// </summary>
    public Value Slice(Value x, long[] starts, long[] ends, long[] axes, long[]? steps = null, long[]? dims = null)
    {
        if (Opset >= 10)
            return steps is null
                ? Op("Slice", x, Ints(starts), Ints(ends), Ints(axes))
                : Op("Slice", x, Ints(starts), Ints(ends), Ints(axes), Ints(steps));
        var plain = Enumerable.Range(0, axes.Length).Where(i => steps is null || steps[i] == 1).ToArray();
        var sliced = plain.Length == 0
            ? x
            : Op("Slice", [x], Attr.Ints("starts", plain.Select(i => starts[i])), Attr.Ints("ends", plain.Select(i => ends[i])),
                Attr.Ints("axes", plain.Select(i => axes[i])));
        for (var i = 0; i < axes.Length; i++)
        {
            if (steps is null || steps[i] == 1) continue;
            var axis = (int)axes[i];
            if (dims is null || axis < 0 || axis >= dims.Length || dims[axis] < 0)
                throw new InvalidOperationException($"a strided Slice before opset 10 needs the fixed size of axis {axes[i]}");
            var (first, count) = SliceRange(starts[i], ends[i], steps[i], dims[axis]);
            var picked = Enumerable.Range(0, (int)count).Select(k => first + k * steps[i]).ToArray();
            sliced = Op("Gather", [sliced, Ints(picked)], Attr.Int("axis", axis));
        }
        return sliced;
    }

    /// <summary>ONNX Slice's clamping on an axis of <paramref name="size"/>: the first index read and
    /// the number of elements.</summary>
    public static (long Start, long Count) SliceRange(long start, long end, long step, long size)
    {
        if (start < 0) start += size;
        if (end < 0) end += size;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, size);
            end = Math.Clamp(end, 0, size);
            return (start, Math.Max(0, (end - start + step - 1) / step));
        }
        start = Math.Clamp(start, 0, size - 1);
        end = Math.Clamp(end, -1, size - 1);
        return (start, Math.Max(0, (start - end - step - 1) / -step));
    }

    /// <summary>Constant padding with <paramref name="value"/>, pads = [begin_0, ..., begin_n, end_0, ..., end_n]
    /// (negative crops); pads and value are inputs from opset 11, attributes before.</summary>
    public Value Pad(Value x, long[] pads, float value = 0)
    {
        if (Opset >= 11)
            return value == 0 ? Op("Pad", x, Ints(pads)) : Op("Pad", x, Ints(pads), Scalar(value));
        return value == 0 ? Op("Pad", [x], Attr.Ints("pads", pads)) : Op("Pad", [x], Attr.Ints("pads", pads), Attr.Float("value", value));
    }

    /// <summary>Concat along an axis.</summary>
    public Value Concat(long axis, params Value[] parts) => Op("Concat", parts, Attr.Int("axis", axis));

    /// <summary>Splits along an axis into parts of the given sizes.</summary>
    public IReadOnlyList<Value> Split(Value x, long axis, long[] sizes) =>
        Opset >= 13
            ? OpMulti("Split", [x, Ints(sizes)], sizes.Length, Attr.Int("axis", axis))
            : OpMulti("Split", [x], sizes.Length, Attr.Int("axis", axis), Attr.Ints("split", sizes));

    /// <summary>A float tensor of zeros shaped like <paramref name="like"/>. ConstantOfShape came at
    /// opset 9; before, a one-element zero is tiled Size(like) times and reshaped.</summary>
    public Value ZerosLike(Value like)
    {
        if (Opset >= 9)
            return Op("ConstantOfShape", [Shape(like)], Attr.Tensor("value", TensorData.FromFloats("zero", [1], [0f]).Proto));
        var flat = Op("Tile", Floats([1], [0f]), Reshape(Op("Size", like), Ints(1)));
        return Reshape(flat, Shape(like));
    }

    /// <summary>x broadcast to the shape of <paramref name="like"/> (Expand, opset 8; before, x plus
    /// zeros of that shape).</summary>
    public Value ExpandLike(Value x, Value like) =>
        Opset >= 8 ? Op("Expand", x, Shape(like)) : Add(x, ZerosLike(like));

    /// <summary>
    /// op(A)·op(B) for 2-D A and B (op transposes when asked), scaled by <paramref name="alpha"/>:
    /// a Gemm without bias. C became optional at opset 11; before, a zero scalar is added.
    /// </summary>
    public Value Gemm(Value a, Value b, bool transA = false, bool transB = false, float alpha = 1)
    {
        var attributes = new List<AttributeProto>();
        if (transA) attributes.Add(Attr.Int("transA", 1));
        if (transB) attributes.Add(Attr.Int("transB", 1));
        if (alpha != 1) attributes.Add(Attr.Float("alpha", alpha));
        return Op("Gemm", Opset >= 11 ? [a, b] : [a, b, Scalar(0)], [.. attributes]);
    }

    /// <summary>a == b elementwise for float tensors (broadcasting). Equal takes floats from opset
    /// 11; before, it is ¬(a &lt; b ∨ a &gt; b), which Less and Greater take on floats from opset 7.</summary>
    public Value FloatEqual(Value a, Value b) =>
        Opset >= 11 ? Op("Equal", a, b) : Op("Not", Op("Or", Op("Less", a, b), Op("Greater", a, b)));

    /// <summary>
    /// Where(condition, a, b), broadcasting. Where came at opset 9; before (where a and b can only be
    /// float: every op with integer a and b is newer), the condition is cast to a 0/1 mask m and the
    /// result is a·m + b·(1 − m) (a term is left out where a or b is the zero scalar), exact for
    /// finite a and b.
    /// </summary>
    public Value Where(Value condition, Value a, Value b)
    {
        if (Opset >= 9) return Op("Where", condition, a, b);
        var mask = Cast(condition, TensorProto.Types.DataType.Float);
        if (IsZeroScalar(b)) return Mul(a, mask);
        var rest = Mul(b, Sub(Scalar(1), mask));
        return IsZeroScalar(a) ? rest : Add(Mul(a, mask), rest);
    }

    /// <summary>Where(condition, a, 0): a where the condition holds, 0 elsewhere.</summary>
    public Value WhereOrZero(Value condition, Value a) => Where(condition, a, Scalar(0));

    /// <summary>
    /// One-hot rows of 1-D int64 <paramref name="indices"/> [n]: a float [n, depth] holding
    /// <paramref name="on"/> at each index and <paramref name="off"/> elsewhere. OneHot came at opset
    /// 9; before, the indices are compared (Equal on int64, opset 7) with the constant 0..depth−1,
    /// which needs <paramref name="depth"/> (a 1-element int64 tensor) to be a constant.
    /// </summary>
    public Value OneHot(Value indices, Value depth, float off = 0, float on = 1)
    {
        if (Opset >= 9)
            return Op("OneHot", [indices, depth, Floats([2], [off, on])], Attr.Int("axis", -1));
        var size = depth.Initializer?.ToInt64Array() is [var n] ? n
            : throw new InvalidOperationException("OneHot before opset 9 needs a constant depth");
        var positions = Ints(Enumerable.Range(0, checked((int)size)).Select(i => (long)i).ToArray());
        var mask = Cast(Op("Equal", Unsqueeze(indices, 1), positions), TensorProto.Types.DataType.Float);
        return off == 0 && on == 1 ? mask : Add(Mul(mask, Scalar(on - off)), Scalar(off));
    }

    /// <summary>Clip(x, min, max) with float bounds: inputs from opset 11, attributes before.</summary>
    public Value Clip(Value x, float min, float max) =>
        Opset >= 11
            ? Op("Clip", x, Scalar(min), Scalar(max))
            : Op("Clip", [x], Attr.Float("min", min), Attr.Float("max", max));

    /// <summary>sign(x) of a float tensor (−1, 0 or 1). Sign came at opset 9; before, [x &gt; 0] − [x &lt; 0].</summary>
    public Value Sign(Value x)
    {
        if (Opset >= 9) return Op("Sign", x);
        var zero = Scalar(0);
        return Sub(Cast(Op("Greater", x, zero), TensorProto.Types.DataType.Float), Cast(Op("Less", x, zero), TensorProto.Types.DataType.Float));
    }

    /// <summary>
    /// ScatterElements(data, indices, updates, axis) without reduction: ScatterElements from opset 11,
    /// Scatter (the same op under its older name) at opsets 9 and 10. Opsets before 9 have neither:
    /// a rule that needs it refuses those opsets in its registry check.
    /// </summary>
    public Value ScatterElements(Value data, Value indices, Value updates, long axis)
    {
        if (Opset < 9)
            throw new InvalidOperationException("ScatterElements needs opset 9 or later (Scatter)");
        return Op(Opset >= 11 ? "ScatterElements" : "Scatter", [data, indices, updates], Attr.Int("axis", axis));
    }

    /// <summary>
    /// GatherElements(data, indices, axis): out[j] = data[j with its axis coordinate replaced by
    /// indices[j]]. GatherElements came at opset 11; before, the indices must be a constant
    /// (an initializer or a Constant node) and the data's dims after the first fixed
    /// (<paramref name="dataDims"/>), and the flat positions read are gathered from the flattened data.
    /// </summary>
    public Value GatherElements(Value data, Value indices, long axis, long[] dataDims)
    {
        if (Opset >= 11) return Op("GatherElements", [data, indices], Attr.Int("axis", axis));
        var constant = indices.Initializer ?? (indices.Producer is { OpType: "Constant" } p && p.Attribute("value") is { } t ? new TensorData(t.T) : null);
        if (constant is null)
            throw new InvalidOperationException("GatherElements before opset 11 needs constant indices");
        var indexDims = constant.Dims;
        var values = constant.ToInt64Array();
        if (dataDims[1..].Any(d => d < 0) || (axis == 0 && values.Any(v => v < 0) && dataDims[0] < 0))
            throw new InvalidOperationException("GatherElements before opset 11 needs the data's dims after the first fixed");
        var strides = new long[dataDims.Length];
        var stride = 1L;
        for (var d = dataDims.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= Math.Max(dataDims[d], 1);
        }
        var flat = new long[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var rest = (long)i;
            for (var d = indexDims.Length - 1; d >= 0; d--)
            {
                var coordinate = rest % indexDims[d];
                rest /= indexDims[d];
                if (d == axis) coordinate = values[i] < 0 ? values[i] + dataDims[d] : values[i];
                flat[i] += coordinate * strides[d];
            }
        }
        return Reshape(Op("Gather", [Reshape(data, Ints(-1)), Ints(flat)], Attr.Int("axis", 0)), Ints(indexDims));
    }

    private bool IsZeroScalar(Value v) =>
        v.Initializer is { ElementCount: 1 } data && data.Dims.Length == 0 && data.ToFloatArray()[0] == 0;
}
