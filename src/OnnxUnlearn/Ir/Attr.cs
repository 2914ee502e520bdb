using Google.Protobuf;
using OnnxUnlearn.Onnx;
using AttrType = OnnxUnlearn.Onnx.AttributeProto.Types.AttributeType;

namespace OnnxUnlearn.Ir;

/// <summary>Short constructors for node attributes.</summary>
public static class Attr
{
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttrType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttrType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttrType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttrType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttrType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttrType.Tensor, T = value };
}
