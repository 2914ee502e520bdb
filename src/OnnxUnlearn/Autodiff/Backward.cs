using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Autodiff;

/// <summary>
/// Reverse-mode differentiation of an ONNX graph into standard ONNX ops. Given seed gradients (for
/// example dLoss/dLogits) and target values (initializers and/or graph inputs), it visits only the
/// nodes between them, in reverse topological order, applies each node's rule from the
/// <see cref="GradientRegistry"/>, and sums gradients where paths meet.
/// </summary>
public static class Backward
{
    /// <summary>
    /// Emits the backward nodes into <paramref name="builder"/>'s graph and returns the gradient value
    /// of every target that a gradient reaches (targets the seeds do not depend on are left out).
    /// </summary>
    public static Dictionary<Value, Value> Build(GraphBuilder builder, IReadOnlyDictionary<Value, Value> seeds,
        IReadOnlyCollection<Value> targets, IReadOnlyDictionary<string, ValueShape> shapes,
        BackwardOptions? options = null, GradientRegistry? registry = null)
    {
        registry ??= GradientRegistry.Default;
        options ??= new BackwardOptions();
        var graph = builder.Graph;
        var forwardNodes = graph.Nodes.ToList();

        // Values that depend on a target (and carry floating-point data).
        var dependent = new HashSet<Value>(targets);
        foreach (var node in forwardNodes)
            if (node.Inputs.Any(i => i is not null && dependent.Contains(i)))
                foreach (var output in node.Outputs)
                    if (IsFloat(output, shapes)) dependent.Add(output);

        // Nodes on a path from a target to a seed.
        var contributes = new HashSet<Value>(seeds.Keys);
        var path = new List<Node>();
        for (var k = forwardNodes.Count - 1; k >= 0; k--)
        {
            var node = forwardNodes[k];
            if (!node.Outputs.Any(contributes.Contains) || !node.Inputs.Any(i => i is not null && dependent.Contains(i))) continue;
            path.Add(node);
            foreach (var input in node.Inputs)
                if (input is not null && dependent.Contains(input)) contributes.Add(input);
        }

        var pending = new Dictionary<Value, List<Value>>();
        void Accumulate(Value value, Value gradient)
        {
            if (!pending.TryGetValue(value, out var list)) pending[value] = list = [];
            list.Add(gradient);
        }
        Value? Total(Value value)
        {
            if (!pending.TryGetValue(value, out var list)) return null;
            if (list.Count > 1)
            {
                var sum = builder.Op("Sum", [.. list]);
                list.Clear();
                list.Add(sum);
            }
            return list[0];
        }

        foreach (var (value, seed) in seeds)
            Accumulate(value, seed);

        var prefix = builder.Prefix;
        foreach (var node in path)
        {
            var outputGrads = node.Outputs.Select(Total).ToArray();
            if (outputGrads.All(g => g is null) || registry.IsNonDifferentiable(node)) continue;
            var rule = registry.Find(node) ?? throw new UserInputException($"{node.Describe()}: {registry.Unsupported(node, builder.Opset)}");
            builder.Prefix = $"{prefix}/{node.Name}";
            bool Needs(Value v) => dependent.Contains(v) && contributes.Contains(v);
            rule(new GradientContext(builder, node, outputGrads, Needs, shapes, Accumulate, options));
        }
        builder.Prefix = prefix;

        var result = new Dictionary<Value, Value>();
        foreach (var target in targets)
            if (Total(target) is { } gradient) result[target] = gradient;
        return result;
    }

    /// <summary>
    /// The nodes between the targets and the seeds that no rule covers, each with the reason: what
    /// <c>inspect</c> lists and what every training command refuses up front.
    /// </summary>
    public static List<(Node Node, string Reason)> FindBlockers(Graph graph, int opset, IEnumerable<Value> seeds,
        IReadOnlyCollection<Value> targets, GradientRegistry? registry = null)
    {
        registry ??= GradientRegistry.Default;
        var dependent = new HashSet<Value>(targets);
        foreach (var node in graph.Nodes)
            if (node.Inputs.Any(i => i is not null && dependent.Contains(i)))
                foreach (var output in node.Outputs) dependent.Add(output);
        var contributes = new HashSet<Value>(seeds);
        var blockers = new List<(Node, string)>();
        for (var k = graph.Nodes.Count - 1; k >= 0; k--)
        {
            var node = graph.Nodes[k];
            if (!node.Outputs.Any(contributes.Contains) || !node.Inputs.Any(i => i is not null && dependent.Contains(i))) continue;
            if (registry.IsNonDifferentiable(node)) continue;
            foreach (var input in node.Inputs)
                if (input is not null) contributes.Add(input);
            if (registry.Unsupported(node, opset) is { } reason)
                blockers.Add((node, reason));
        }
        blockers.Reverse();
        return blockers;
    }

    private static bool IsFloat(Value value, IReadOnlyDictionary<string, ValueShape> shapes) =>
        shapes.TryGetValue(value.Name, out var s)
            ? s.ElementType is TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Float16
            : true;
}
