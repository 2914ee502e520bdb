using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>Builds TypeProtos for tensor inputs and outputs.</summary>
public static class TensorTypes
{
    /// <summary>A tensor type; a dim of -1 (or less) becomes the symbolic dim <paramref name="symbol"/>.</summary>
    public static TypeProto Of(TensorProto.Types.DataType elementType, IEnumerable<long> dims, string symbol = "batch")
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d >= 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = symbol });
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } };
    }

    public static TypeProto Float(params long[] dims) => Of(TensorProto.Types.DataType.Float, dims);

    /// <summary>A tensor type of known element type and unknown shape.</summary>
    public static TypeProto Unshaped(TensorProto.Types.DataType elementType) =>
        new() { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType } };
}
