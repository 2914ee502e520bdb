using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Ir;

/// <summary>
/// A computation graph: nodes in order, values linked to their producer and uses, graph inputs and
/// outputs, and initializers (whose data stays in the original TensorProto until read). Fields of
/// the GraphProto this IR does not model (value_info, sparse initializers, quantization annotations,
/// metadata) are kept in <see cref="Extra"/> and written back unchanged.
/// </summary>
public sealed class Graph
{
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nameCounters = new(StringComparer.Ordinal);

    public Graph(string name = "graph") => Extra = new GraphProto { Name = name };

    public string Name { get => Extra.Name; set => Extra.Name = value; }

    /// <summary>The GraphProto without nodes, inputs, outputs and initializers (value_info stays
    /// as read: types of intermediate values are hints, and ONNX Runtime infers the rest).</summary>
    public GraphProto Extra { get; private set; }

    public List<Node> Nodes { get; } = [];
    public List<Value> Inputs { get; } = [];
    public List<Value> Outputs { get; } = [];
    public List<Value> Initializers { get; } = [];

    public IReadOnlyDictionary<string, Value> Values => _values;

    /// <summary>Graph inputs that are not initializers (old IR versions list weights as inputs too).</summary>
    public IEnumerable<Value> RealInputs => Inputs.Where(v => v.Initializer is null);

    public Value this[string name] => _values.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no value named '{name}' in graph '{Name}'");

    public bool TryGetValue(string name, out Value value) => _values.TryGetValue(name, out value!);

    /// <summary>A name not used by any value or node of this graph, derived from <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        if (!_values.ContainsKey(hint) && !_nodeNames.Contains(hint))
            return hint;
        _nameCounters.TryGetValue(hint, out var n);
        string candidate;
        do candidate = $"{hint}_{++n}";
        while (_values.ContainsKey(candidate) || _nodeNames.Contains(candidate));
        _nameCounters[hint] = n;
        return candidate;
    }

    /// <summary>Gets the value with this exact name, creating it if it does not exist yet.</summary>
    public Value GetOrCreateValue(string name)
    {
        if (!_values.TryGetValue(name, out var value))
            _values[name] = value = new Value(name);
        return value;
    }

    /// <summary>A new value with a unique name derived from <paramref name="hint"/>.</summary>
    public Value CreateValue(string hint) => GetOrCreateValue(UniqueName(hint));

    public Value AddInput(string name, TypeProto type)
    {
        var value = GetOrCreateValue(name);
        value.Type = type;
        Inputs.Add(value);
        return value;
    }

    /// <summary>Adds a constant; the name is made unique if taken.</summary>
    public Value AddInitializer(TensorData data, string? name = null)
    {
        var value = CreateValue(name ?? data.Name);
        if (data.Name != value.Name)
            data.Proto.Name = value.Name;
        value.Initializer = data;
        Initializers.Add(value);
        return value;
    }

    /// <summary>
    /// Appends a node. Outputs are new values named after the node unless <paramref name="outputNames"/>
    /// gives exact names.
    /// </summary>
    public Node AddNode(string opType, IEnumerable<Value?> inputs, int outputCount = 1,
        IEnumerable<AttributeProto>? attributes = null, string? name = null, string domain = "",
        IReadOnlyList<string>? outputNames = null)
    {
        var node = new Node(UniqueName(name ?? opType), opType, domain);
        _nodeNames.Add(node.Name);
        foreach (var input in inputs)
            node.AddInput(input);
        for (var i = 0; i < outputCount; i++)
            node.AddOutput(outputNames is not null ? GetOrCreateValue(outputNames[i]) : CreateValue(outputCount == 1 ? node.Name + "_out" : $"{node.Name}_out{i}"));
        if (attributes is not null)
            node.Attributes.AddRange(attributes);
        Nodes.Add(node);
        return node;
    }

    /// <summary>Gives a node one more output (e.g. MaxPool's optional Indices).</summary>
    public Value AddNodeOutput(Node node, string hint)
    {
        var value = CreateValue(hint);
        node.AddOutput(value);
        return value;
    }

    public void RemoveNode(Node node)
    {
        node.Detach();
        Nodes.Remove(node);
        _nodeNames.Remove(node.Name);
    }

    /// <summary>Orders nodes so that every producer comes before its consumers (stable: keeps the
    /// existing order where it is already valid).</summary>
    public void TopologicalSort()
    {
        var index = new Dictionary<Node, int>();
        for (var i = 0; i < Nodes.Count; i++) index[Nodes[i]] = i;
        var pending = new int[Nodes.Count];
        var consumers = new List<int>[Nodes.Count];
        for (var i = 0; i < Nodes.Count; i++)
            consumers[i] = [];
        for (var i = 0; i < Nodes.Count; i++)
        {
            foreach (var input in NodeDependencies(Nodes[i]))
                if (input.Producer is { } p && index.TryGetValue(p, out var pi))
                {
                    pending[i]++;
                    consumers[pi].Add(i);
                }
        }
        var ready = new PriorityQueue<int, int>();
        for (var i = 0; i < Nodes.Count; i++)
            if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(Nodes.Count);
        while (ready.TryDequeue(out var i, out _))
        {
            order.Add(Nodes[i]);
            foreach (var c in consumers[i])
                if (--pending[c] == 0) ready.Enqueue(c, c);
        }
        if (order.Count != Nodes.Count)
            throw new UserInputException($"graph '{Name}' has a cycle through {Nodes.First(n => !order.Contains(n)).Describe()}");
        Nodes.Clear();
        Nodes.AddRange(order);
    }

    /// <summary>Removes nodes and initializers that do not contribute to a graph output.</summary>
    public int RemoveDeadNodes()
    {
        var live = new HashSet<Node>();
        var stack = new Stack<Value>(Outputs);
        while (stack.Count > 0)
        {
            var producer = stack.Pop().Producer;
            if (producer is null || !live.Add(producer)) continue;
            foreach (var input in NodeDependencies(producer))
                stack.Push(input);
        }
        var dead = Nodes.Where(n => !live.Contains(n)).ToList();
        foreach (var node in dead)
            RemoveNode(node);
        Initializers.RemoveAll(v => v.Uses.Count == 0 && !Outputs.Contains(v) && !Inputs.Contains(v));
        return dead.Count;
    }

    /// <summary>The node's inputs plus the outer values its subgraphs (If/Loop/Scan bodies) read.</summary>
    public IEnumerable<Value> NodeDependencies(Node node)
    {
        foreach (var input in node.Inputs)
            if (input is not null) yield return input;
        foreach (var attribute in node.Attributes)
            foreach (var sub in SubgraphsOf(attribute))
                foreach (var name in OuterNamesReadBy(sub))
                    if (_values.TryGetValue(name, out var v)) yield return v;
    }

    internal static IEnumerable<GraphProto> SubgraphsOf(AttributeProto attribute) =>
        attribute.G is not null ? attribute.Graphs.Prepend(attribute.G) : attribute.Graphs;

    private static IEnumerable<string> OuterNamesReadBy(GraphProto sub)
    {
        var local = new HashSet<string>(sub.Input.Select(i => i.Name).Concat(sub.Initializer.Select(i => i.Name)).Concat(sub.Node.SelectMany(n => n.Output)));
        foreach (var node in sub.Node)
        {
            foreach (var name in node.Input)
                if (name.Length > 0 && !local.Contains(name)) yield return name;
            foreach (var attribute in node.Attribute)
                foreach (var inner in SubgraphsOf(attribute))
                    foreach (var name in OuterNamesReadBy(inner))
                        if (!local.Contains(name)) yield return name;
        }
    }

    public static Graph FromProto(GraphProto proto, string? baseDirectory)
    {
        var graph = new Graph();
        // Extra is cloned with the initializers set aside: cloning them would copy every weight's bytes.
        var initializers = proto.Initializer.ToArray();
        proto.Initializer.Clear();
        graph.Extra = proto.Clone();
        proto.Initializer.AddRange(initializers);
        graph.Extra.Node.Clear();
        graph.Extra.Input.Clear();
        graph.Extra.Output.Clear();
        foreach (var init in proto.Initializer)
        {
            var value = graph.GetOrCreateValue(init.Name);
            value.Initializer = new TensorData(init, baseDirectory);
            graph.Initializers.Add(value);
        }
        foreach (var input in proto.Input)
            graph.AddInput(input.Name, input.Type).Type = input.Type;
        foreach (var info in proto.ValueInfo)
            graph.GetOrCreateValue(info.Name).Type = info.Type;
        foreach (var n in proto.Node)
        {
            var extra = n.Clone();
            extra.Input.Clear();
            extra.Output.Clear();
            extra.Attribute.Clear();
            var node = new Node(n.Name, n.OpType, n.Domain) { Extra = extra };
            graph._nodeNames.Add(n.Name);
            foreach (var name in n.Input)
                node.AddInput(name.Length == 0 ? null : graph.GetOrCreateValue(name));
            // Omitted optional outputs: trailing ones are dropped (as ONNX allows); one in the middle
            // keeps its place as an unnamed value that is no graph value.
            var outputCount = n.Output.Count;
            while (outputCount > 0 && n.Output[outputCount - 1].Length == 0) outputCount--;
            foreach (var name in n.Output.Take(outputCount))
                node.AddOutput(name.Length == 0 ? new Value("") : graph.GetOrCreateValue(name));
            node.Attributes.AddRange(n.Attribute);
            graph.Nodes.Add(node);
        }
        foreach (var output in proto.Output)
        {
            var value = graph.GetOrCreateValue(output.Name);
            value.Type = output.Type;
            graph.Outputs.Add(value);
        }
        foreach (var sub in proto.Node.SelectMany(n => n.Attribute).SelectMany(SubgraphsOf))
            graph.ReserveNamesOf(sub);
        return graph;
    }

    private void ReserveNamesOf(GraphProto sub)
    {
        foreach (var node in sub.Node)
        {
            _nodeNames.Add(node.Name);
            foreach (var name in node.Output) _nodeNames.Add(name);
            foreach (var inner in node.Attribute.SelectMany(SubgraphsOf)) ReserveNamesOf(inner);
        }
    }

    public GraphProto ToProto()
    {
        var proto = Extra.Clone();
        foreach (var value in Initializers)
            proto.Initializer.Add(value.Initializer!.Proto);
        foreach (var value in Inputs)
            proto.Input.Add(ValueInfo(value));
        foreach (var value in Outputs)
            proto.Output.Add(ValueInfo(value));
        foreach (var node in Nodes)
        {
            var n = node.Extra?.Clone() ?? new NodeProto();
            n.Name = node.Name;
            n.OpType = node.OpType;
            if (node.Domain.Length > 0 || n.HasDomain) n.Domain = node.Domain;
            n.Input.AddRange(node.Inputs.Select(v => v?.Name ?? ""));
            n.Output.AddRange(node.Outputs.Select(v => v.Name));
            n.Attribute.AddRange(node.Attributes);
            proto.Node.Add(n);
        }
        return proto;
    }

    private static ValueInfoProto ValueInfo(Value value)
    {
        var info = new ValueInfoProto { Name = value.Name };
        if (value.Type is not null) info.Type = value.Type;
        return info;
    }
}
