using System.Runtime.InteropServices;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>
/// Emits nodes into a graph with one-line calls, in the form the graph's opset wants: helpers such
/// as <see cref="ReduceSum"/>, <see cref="Unsqueeze"/> or <see cref="Slice"/> pass axes as an
/// attribute or as an input depending on the opset version. New nodes are named
/// <c>{prefix}/{op}</c> (made unique); constants are shared by content.
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

    public Value Slice(Value x, long[] starts, long[] ends, long[] axes, long[]? steps = null)
    {
        if (Opset >= 10)
            return steps is null
                ? Op("Slice", x, Ints(starts), Ints(ends), Ints(axes))
                : Op("Slice", x, Ints(starts), Ints(ends), Ints(axes), Ints(steps));
        if (steps is not null && steps.Any(s => s != 1))
            throw new NotSupportedException("Slice with steps needs opset 10 or later");
        return Op("Slice", [x], Attr.Ints("starts", starts), Attr.Ints("ends", ends), Attr.Ints("axes", axes));
    }

    /// <summary>Zero padding, pads = [begin_0, ..., begin_n, end_0, ..., end_n] (negative crops).</summary>
    public Value Pad(Value x, long[] pads) =>
        Opset >= 11 ? Op("Pad", x, Ints(pads)) : Op("Pad", [x], Attr.Ints("pads", pads));

    /// <summary>Concat along an axis.</summary>
    public Value Concat(long axis, params Value[] parts) => Op("Concat", parts, Attr.Int("axis", axis));

    /// <summary>Splits along an axis into parts of the given sizes.</summary>
    public IReadOnlyList<Value> Split(Value x, long axis, long[] sizes) =>
        Opset >= 13
            ? OpMulti("Split", [x, Ints(sizes)], sizes.Length, Attr.Int("axis", axis))
            : OpMulti("Split", [x], sizes.Length, Attr.Int("axis", axis), Attr.Ints("split", sizes));

    /// <summary>A float tensor of zeros shaped like <paramref name="like"/>.</summary>
    public Value ZerosLike(Value like) =>
        Op("ConstantOfShape", [Shape(like)], Attr.Tensor("value", TensorData.FromFloats("zero", [1], [0f]).Proto));
}
