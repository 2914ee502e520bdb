using OnnxUnlearn.Onnx;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Ir;

/// <summary>
/// Turns a float16 model into the float32 model it stands for, in place: float16 initializers,
/// graph inputs and outputs, declared value types, <c>Cast(to=FLOAT16)</c> and float16 constants
/// (<c>Constant</c>, <c>ConstantOfShape</c>) all become float32. Training, the shape probe and the
/// data pipeline then run in float32 as for any other model; export writes the trained values back
/// into the ORIGINAL float16 model (<see cref="Training.ModelExporter"/> converts them), so the
/// output keeps its float16 weights and interface.
/// </summary>
public static class Float16WideningPass
{
    /// <summary>Whether the model holds any float16 initializer, input, output or cast.</summary>
    public static bool Applies(Model model)
    {
        var graph = model.Graph;
        return graph.Initializers.Any(v => v.Initializer!.ElementType == DataType.Float16)
            || graph.Inputs.Concat(graph.Outputs).Any(v => v.ElementType == DataType.Float16)
            || graph.Nodes.Any(IsFloat16Cast);
    }

    /// <summary>Widens every float16 part of the main graph to float32; returns whether anything changed.</summary>
    public static bool Apply(Model model)
    {
        if (!Applies(model)) return false;
        var graph = model.Graph;
        foreach (var value in graph.Initializers.Where(v => v.Initializer!.ElementType == DataType.Float16))
        {
            var data = value.Initializer!;
            value.Initializer = TensorData.FromFloats(data.Name, data.Dims, data.ToFloatArray());
        }
        foreach (var value in graph.Values.Values.Where(v => v.Type is not null))
            value.Type = Widened(value.Type!);
        for (var i = 0; i < graph.Extra.ValueInfo.Count; i++)
            graph.Extra.ValueInfo[i].Type = Widened(graph.Extra.ValueInfo[i].Type);
        foreach (var node in graph.Nodes.Where(n => n.IsStandard))
        {
            if (IsFloat16Cast(node))
                node.SetAttribute(Attr.Int("to", (long)DataType.Float));
            else if (node.OpType is "Constant" or "ConstantOfShape" && node.Attribute("value") is { T: { DataType: (int)DataType.Float16 } tensor })
            {
                var widened = TensorData.FromFloats(tensor.Name, [.. tensor.Dims], new TensorData(tensor).ToFloatArray()).Proto;
                node.SetAttribute(Attr.Tensor("value", widened));
            }
        }
        return true;
    }

    private static bool IsFloat16Cast(Node node) =>
        node is { OpType: "Cast", IsStandard: true } && node.GetInt("to", 0) == (long)DataType.Float16;

    private static TypeProto Widened(TypeProto type)
    {
        if (type.TensorType is not { ElemType: (int)DataType.Float16 }) return type;
        var widened = type.Clone();
        widened.TensorType.ElemType = (int)DataType.Float;
        return widened;
    }
}
