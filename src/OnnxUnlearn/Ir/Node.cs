using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>
/// One operator application. Inputs may be null (an omitted optional input, "" in ONNX). Setting an
/// input updates the use lists of the old and new values.
/// </summary>
public sealed class Node
{
    private readonly List<Value?> _inputs = [];
    private readonly List<Value> _outputs = [];

    internal Node(string name, string opType, string domain)
    {
        Name = name;
        OpType = opType;
        Domain = domain;
    }

    public string Name { get; set; }
    public string OpType { get; }

    /// <summary>Operator set domain; "" (and "ai.onnx") is the standard domain.</summary>
    public string Domain { get; }

    public List<AttributeProto> Attributes { get; } = [];

    /// <summary>Fields of the original NodeProto this IR does not model (doc string, overload,
    /// metadata); copied back verbatim on export.</summary>
    public NodeProto? Extra { get; init; }

    public IReadOnlyList<Value?> Inputs => _inputs;
    public IReadOnlyList<Value> Outputs => _outputs;

    public bool IsStandard => Domain is "" or "ai.onnx";

    public Value? Input(int index) => index < _inputs.Count ? _inputs[index] : null;

    internal void AddInput(Value? value)
    {
        _inputs.Add(value);
        value?.AddUse(new Usage(this, _inputs.Count - 1));
    }

    internal void AddOutput(Value value)
    {
        value.Producer = this;
        value.ProducerOutputIndex = _outputs.Count;
        _outputs.Add(value);
    }

    public void SetInput(int index, Value? value)
    {
        _inputs[index]?.RemoveUse(new Usage(this, index));
        _inputs[index] = value;
        value?.AddUse(new Usage(this, index));
    }

    /// <summary>Drops every input use (before the node is removed from its graph).</summary>
    internal void Detach()
    {
        for (var i = 0; i < _inputs.Count; i++)
            _inputs[i]?.RemoveUse(new Usage(this, i));
    }

    public AttributeProto? Attribute(string name) => Attributes.Find(a => a.Name == name);

    public long GetInt(string name, long defaultValue) => Attribute(name) is { } a ? a.I : defaultValue;

    public float GetFloat(string name, float defaultValue) => Attribute(name) is { } a ? a.F : defaultValue;

    public string GetString(string name, string defaultValue) =>
        Attribute(name) is { } a ? a.S.ToStringUtf8() : defaultValue;

    public long[]? GetInts(string name) => Attribute(name) is { } a ? [.. a.Ints] : null;

    public float[]? GetFloats(string name) => Attribute(name) is { } a ? [.. a.Floats] : null;

    public void SetAttribute(AttributeProto attribute)
    {
        Attributes.RemoveAll(a => a.Name == attribute.Name);
        Attributes.Add(attribute);
    }

    /// <summary>"node 'Conv_12' (op Conv)": how error messages name a node.</summary>
    public string Describe() => $"node '{Name}' (op {(IsStandard ? "" : Domain + ".")}{OpType})";

    public override string ToString() => Describe();
}
