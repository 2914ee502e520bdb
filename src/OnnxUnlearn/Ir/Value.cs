using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>One use of a value: the node that reads it and at which input position.</summary>
public readonly record struct Usage(Node Node, int InputIndex);

/// <summary>
/// A named tensor in a graph: a graph input, an initializer, or a node output. It knows its
/// producer and every use, kept in sync by <see cref="Node"/>; <see cref="ReplaceAllUsesWith"/> is
/// the one way to rewire consumers.
/// </summary>
public sealed class Value
{
    private readonly List<Usage> _uses = [];

    internal Value(string name) => Name = name;

    public string Name { get; internal set; }

    /// <summary>Declared type (from graph inputs/outputs/value_info), if any.</summary>
    public TypeProto? Type { get; set; }

    /// <summary>The node that computes this value; null for graph inputs and initializers.</summary>
    public Node? Producer { get; internal set; }

    /// <summary>Position among the producer's outputs.</summary>
    public int ProducerOutputIndex { get; internal set; }

    /// <summary>The constant data when this value is an initializer, else null.</summary>
    public TensorData? Initializer { get; internal set; }

    public IReadOnlyList<Usage> Uses => _uses;

    internal void AddUse(Usage use) => _uses.Add(use);

    internal void RemoveUse(Usage use) => _uses.Remove(use);

    /// <summary>Element type from the declared type or the initializer, or UNDEFINED.</summary>
    public TensorProto.Types.DataType ElementType =>
        Initializer is not null ? Initializer.ElementType
        : Type?.TensorType is { } t ? (TensorProto.Types.DataType)t.ElemType
        : TensorProto.Types.DataType.Undefined;

    /// <summary>Makes every consumer of this value read <paramref name="other"/> instead.</summary>
    public void ReplaceAllUsesWith(Value other)
    {
        foreach (var use in _uses.ToArray())
            use.Node.SetInput(use.InputIndex, other);
    }

    public override string ToString() => Name;
}
