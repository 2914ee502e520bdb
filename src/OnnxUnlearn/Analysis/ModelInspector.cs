using OnnxUnlearn.Autodiff;
using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using DataType = OnnxUnlearn.Onnx.TensorProto.Types.DataType;

namespace OnnxUnlearn.Analysis;

/// <summary>One dimension of a declared shape: a number, a symbol (e.g. "batch"), or unknown (both null).</summary>
public readonly record struct DimSummary(long? Value, string? Symbol)
{
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>A graph input or output: name, element type ("float32", or "sequence"/"map"/... for
/// non-tensor types) and declared shape (null when the model declares none).</summary>
public sealed record TensorSummary(string Name, string ElementType, IReadOnlyList<DimSummary>? Shape)
{
    public string FormatShape() => Shape is null ? "(unknown shape)" : "[" + string.Join(", ", Shape) + "]";
}

/// <summary>An operator set the model imports ("" is the standard ai.onnx domain).</summary>
public sealed record OpsetSummary(string Domain, long Version);

/// <summary>How many nodes of the main graph run one operator.</summary>
public sealed record OpCount(string Domain, string OpType, int Count)
{
    public string QualifiedName => Domain is "" or "ai.onnx" ? OpType : $"{Domain}.{OpType}";
}

/// <summary>Where the weights' bytes live when they are not inside the .onnx file.</summary>
public sealed record ExternalDataSummary(int TensorCount, long Bytes, IReadOnlyList<string> Files)
{
    public bool Used => TensorCount > 0;
}

/// <summary>The classifier's interface as <see cref="ClassifierInfo"/> found it.</summary>
public sealed record ClassifierSummary(string InputName, string OutputName, string LogitsName, HeadKind Head,
    int ClassCount, InputLayout Layout, IReadOnlyList<int> SampleDims);

/// <summary>A node between the weights/input and the logits that the autodiff cannot differentiate.</summary>
public sealed record TrainabilityBlocker(string NodeName, string Domain, string OpType, long Opset, string Reason)
{
    public string QualifiedOp => Domain is "" or "ai.onnx" ? OpType : $"{Domain}.{OpType}";
}

/// <summary>
/// The quantized operators of a model. <see cref="Format"/> is "QDQ" when the model is float ops
/// between QuantizeLinear/DequantizeLinear pairs, "QOperator" when it runs quantized kernels
/// (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, com.microsoft QGemm...).
/// </summary>
public sealed record QuantizationSummary(string Format, IReadOnlyList<OpCount> Ops)
{
    /// <summary>What to do instead: the weights are integers, and rounding has no gradient.</summary>
    public const string Advice = "unlearn the float model it was quantized from, then quantize the result again with the same tool and calibration data";

    public string Describe() => $"{Format}: {string.Join(", ", Ops.Select(o => $"{o.Count} {o.QualifiedName}"))}";

    /// <summary>The quantized ops of the main graph, or null if it has none.</summary>
    public static QuantizationSummary? Of(Graph graph)
    {
        var ops = graph.Nodes.Where(IsQuantized)
            .GroupBy(n => (Domain: n.IsStandard ? "" : n.Domain, n.OpType))
            .Select(g => new OpCount(g.Key.Domain, g.Key.OpType, g.Count()))
            .OrderByDescending(o => o.Count).ThenBy(o => o.QualifiedName, StringComparer.Ordinal)
            .ToList();
        if (ops.Count == 0) return null;
        var qdq = ops.All(o => o.OpType is "QuantizeLinear" or "DequantizeLinear");
        return new QuantizationSummary(qdq ? "QDQ" : "QOperator", ops);
    }

    // QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, DynamicQuantizeMatMul, GatherBlockQuantized,
    // QLinearConv/MatMul/Add/..., ConvInteger, MatMulInteger(ToFloat), QGemm, QAttention, MatMulNBits.
    private static bool IsQuantized(Node node) =>
        node.OpType.Contains("Quantiz", StringComparison.Ordinal) || node.OpType.StartsWith("QLinear", StringComparison.Ordinal)
        || node.OpType.Contains("Integer", StringComparison.Ordinal) || node.OpType is "QGemm" or "QAttention" or "MatMulNBits";
}

/// <summary>Whether gradients flow from the logits to every weight and to the input (what training
/// and UNSIR's noise phase need), and if not, which nodes stop them (or that the model is quantized).</summary>
public sealed record TrainabilitySummary(int ParameterTensors, IReadOnlyList<TrainabilityBlocker> Blockers, QuantizationSummary? Quantization = null)
{
    public bool Trainable => Blockers.Count == 0 && Quantization is null;

    /// <summary>Refuses up front, before any training time is spent: a quantized model with what
    /// to do instead, else every blocking node.</summary>
    /// <exception cref="UserInputException">The model is quantized, or some node has no gradient rule.</exception>
    public void ThrowIfBlocked(string modelName)
    {
        if (Trainable) return;
        if (Quantization is { } q)
            throw new UserInputException($"{modelName}: the model is quantized ({q.Describe()}) and its integer weights cannot be trained; {QuantizationSummary.Advice}");
        const int shown = 10;
        var list = string.Join("; ", Blockers.Take(shown).Select(b => $"node '{b.NodeName}' (op {b.QualifiedOp}, opset {b.Opset}): {b.Reason}"));
        var more = Blockers.Count > shown ? $"; and {Blockers.Count - shown} more (see 'onnx-unlearn inspect')" : "";
        throw new UserInputException($"{modelName}: cannot be trained: {Blockers.Count} node(s) stop the gradient: {list}{more}");
    }
}

/// <summary>Everything <c>onnx-unlearn inspect</c> reports about a model.</summary>
public sealed record ModelReport
{
    public required string Path { get; init; }
    public long? FileBytes { get; init; }
    public required long IrVersion { get; init; }
    public required IReadOnlyList<OpsetSummary> Opsets { get; init; }
    public required string ProducerName { get; init; }
    public required string ProducerVersion { get; init; }
    public required string GraphName { get; init; }
    public required IReadOnlyList<TensorSummary> Inputs { get; init; }
    public required IReadOnlyList<TensorSummary> Outputs { get; init; }
    public required int NodeCount { get; init; }
    public required IReadOnlyList<OpCount> Ops { get; init; }
    public required int InitializerCount { get; init; }
    public required int FunctionCount { get; init; }

    /// <summary>Elements of the floating-point initializers (the weights).</summary>
    public required long ParameterCount { get; init; }

    /// <summary>Bytes of the floating-point initializers.</summary>
    public required long ParameterBytes { get; init; }

    /// <summary>Elements of those initializers that are BatchNormalization running statistics
    /// (mean and variance inputs): state, not trained weights.</summary>
    public required long StatisticsCount { get; init; }

    public required ExternalDataSummary ExternalData { get; init; }
    public required IReadOnlyList<KeyValuePair<string, string>> Metadata { get; init; }

    /// <summary>"NCHW", "NHWC" or "flat" (the classifier's layout, else a guess from the first input's shape); null if no guess.</summary>
    public string? InputLayout { get; init; }

    /// <summary>Set when the model is a classifier this tool can handle.</summary>
    public ClassifierSummary? Classifier { get; init; }

    /// <summary>Why the model is not a classifier this tool can handle (when <see cref="Classifier"/> is null).</summary>
    public string? NotClassifierReason { get; init; }

    /// <summary>Set for classifiers.</summary>
    public TrainabilitySummary? Trainability { get; init; }

    /// <summary>Set when the model has quantized ops (whether or not it is a classifier).</summary>
    public QuantizationSummary? Quantization { get; init; }

    /// <summary>Whether the model computes in float16 (weights, inputs or outputs): it is analysed,
    /// trained and evaluated as its float32 equivalent and written back in float16.</summary>
    public bool Float16 { get; init; }
}

/// <summary>Collects the facts about a model that <c>inspect</c> prints, without running it.</summary>
public static class ModelInspector
{
    /// <summary>Loads nothing: reports on a model already read. <paramref name="modelName"/> names
    /// the model in messages (usually its path).</summary>
    public static ModelReport Inspect(Model model, string modelName)
    {
        var graph = model.Graph;
        var header = model.Header;
        // A float16 model is analysed as the float32 model it is trained as (a widened copy).
        var float16 = Float16WideningPass.Applies(model);
        var compute = model;
        if (float16)
        {
            compute = Model.FromProto(model.ToProto(), model.Path);
            Float16WideningPass.Apply(compute);
        }

        ClassifierInfo? classifier = null;
        string? notClassifier = null;
        try
        {
            classifier = ClassifierInfo.Analyze(compute, modelName);
        }
        catch (UserInputException e)
        {
            notClassifier = StripName(e.Message, modelName);
        }

        var floatWeights = graph.Initializers.Where(v => v.Initializer!.IsFloatingPoint).ToList();
        var external = graph.Initializers.Where(v => v.Initializer!.IsExternal).ToList();

        return new ModelReport
        {
            Path = model.Path ?? modelName,
            FileBytes = model.Path is not null && File.Exists(model.Path) ? new FileInfo(model.Path).Length : null,
            IrVersion = header.IrVersion,
            Opsets = header.OpsetImport.Select(o => new OpsetSummary(o.Domain, o.Version)).ToList(),
            ProducerName = header.ProducerName,
            ProducerVersion = header.ProducerVersion,
            GraphName = graph.Name,
            Inputs = graph.RealInputs.Select(Summarize).ToList(),
            Outputs = graph.Outputs.Select(Summarize).ToList(),
            NodeCount = graph.Nodes.Count,
            Ops = graph.Nodes
                .GroupBy(n => (Domain: n.IsStandard ? "" : n.Domain, n.OpType))
                .Select(g => new OpCount(g.Key.Domain, g.Key.OpType, g.Count()))
                .OrderByDescending(o => o.Count).ThenBy(o => o.QualifiedName, StringComparer.Ordinal)
                .ToList(),
            InitializerCount = graph.Initializers.Count,
            FunctionCount = header.Functions.Count,
            ParameterCount = floatWeights.Sum(v => v.Initializer!.ElementCount),
            ParameterBytes = floatWeights.Sum(v => v.Initializer!.ElementCount * ElementSize(v.Initializer.ElementType)),
            StatisticsCount = floatWeights.Where(IsRunningStatistic).Sum(v => v.Initializer!.ElementCount),
            ExternalData = new ExternalDataSummary(
                external.Count,
                external.Sum(v => v.Initializer!.ElementCount * ElementSize(v.Initializer.ElementType)),
                external.Select(v => ExternalDataInfo.Of(v.Initializer!.Proto).Location).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()),
            Metadata = header.MetadataProps.Select(p => KeyValuePair.Create(p.Key, p.Value)).ToList(),
            InputLayout = classifier is not null ? LayoutName(classifier.Input.Layout) : GuessLayout(graph.RealInputs.FirstOrDefault()),
            Classifier = classifier is null ? null : new ClassifierSummary(classifier.InputValue.Name, classifier.Output.Name,
                classifier.Logits.Name, classifier.Head, classifier.ClassCount, classifier.Input.Layout, classifier.Input.SampleDims),
            NotClassifierReason = notClassifier,
            Trainability = classifier is null ? null : CheckTrainability(compute, classifier),
            Quantization = QuantizationSummary.Of(graph),
            Float16 = float16,
        };
    }

    /// <summary>
    /// Finds the nodes between the weights (floating-point initializers) or the input and the logits
    /// that have no gradient rule: what training and the noise phase would refuse.
    /// </summary>
    public static TrainabilitySummary CheckTrainability(Model model, ClassifierInfo classifier)
    {
        var parameters = model.Graph.Initializers.Where(v => v.Initializer!.IsFloatingPoint).ToList();
        var targets = parameters.Append(classifier.InputValue).ToList();
        var blockers = Backward.FindBlockers(model.Graph, model.OpsetVersion, [classifier.Logits], targets);
        return new TrainabilitySummary(parameters.Count, blockers
            .Select(b => new TrainabilityBlocker(b.Node.Name, b.Node.IsStandard ? "" : b.Node.Domain, b.Node.OpType,
                OpsetOf(model, b.Node.Domain), b.Reason))
            .ToList(), QuantizationSummary.Of(model.Graph));
    }

    /// <summary>Read only as the mean or variance input (3, 4) of BatchNormalization nodes.</summary>
    private static bool IsRunningStatistic(Value value) =>
        value.Uses.Count > 0 && value.Uses.All(u => u.Node is { OpType: "BatchNormalization", IsStandard: true } && u.InputIndex is 3 or 4);

    /// <summary>The version the model imports for a domain (0 if it imports none).</summary>
    public static long OpsetOf(Model model, string domain)
    {
        var standard = domain is "" or "ai.onnx";
        return model.Header.OpsetImport
            .Where(o => standard ? o.Domain is "" or "ai.onnx" : o.Domain == domain)
            .Select(o => o.Version).DefaultIfEmpty(0).Max();
    }

    /// <summary>"float32", "uint8", "float16", ... as NumPy and PyTorch users read them.</summary>
    public static string ElementTypeName(DataType type) => type switch
    {
        DataType.Float => "float32",
        DataType.Double => "float64",
        DataType.Float16 => "float16",
        DataType.Bfloat16 => "bfloat16",
        DataType.Undefined => "undefined",
        _ => type.ToString().ToLowerInvariant(),
    };

    public static string LayoutName(InputLayout layout) => layout switch
    {
        InputLayout.Nchw => "NCHW",
        InputLayout.Nhwc => "NHWC",
        _ => "flat",
    };

    private static TensorSummary Summarize(Value value)
    {
        var type = value.Type;
        if (type is null)
            return new TensorSummary(value.Name, ElementTypeName(value.ElementType), null);
        return type.ValueCase switch
        {
            TypeProto.ValueOneofCase.TensorType => new TensorSummary(value.Name, ElementTypeName((DataType)type.TensorType.ElemType), ShapeOf(type.TensorType.Shape)),
            TypeProto.ValueOneofCase.SparseTensorType => new TensorSummary(value.Name, "sparse " + ElementTypeName((DataType)type.SparseTensorType.ElemType), ShapeOf(type.SparseTensorType.Shape)),
            TypeProto.ValueOneofCase.SequenceType => new TensorSummary(value.Name, "sequence", null),
            TypeProto.ValueOneofCase.MapType => new TensorSummary(value.Name, "map", null),
            TypeProto.ValueOneofCase.OptionalType => new TensorSummary(value.Name, "optional", null),
            TypeProto.ValueOneofCase.OpaqueType => new TensorSummary(value.Name, "opaque", null),
            _ => new TensorSummary(value.Name, "undefined", null),
        };
    }

    private static List<DimSummary>? ShapeOf(TensorShapeProto? shape) =>
        shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => new DimSummary(d.DimValue, null),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => new DimSummary(null, d.DimParam),
            _ => new DimSummary(null, null),
        }).ToList();

    /// <summary>The same rule as <see cref="ClassifierInfo"/> for models it refuses: rank 4 is an
    /// image (NHWC when the last dim looks like channels and the second does not), rank 2 is flat.</summary>
    private static string? GuessLayout(Value? input)
    {
        if (input is null || ClassifierInfo.DimsOf(input) is not { } dims) return null;
        return dims.Length switch
        {
            4 when dims[3] is 1 or 3 && dims[1] is not (1 or 3) => "NHWC",
            4 => "NCHW",
            2 => "flat",
            _ => null,
        };
    }

    private static string StripName(string message, string modelName) =>
        message.StartsWith(modelName + ": ", StringComparison.Ordinal) ? message[(modelName.Length + 2)..] : message;

    private static long ElementSize(DataType type) => type switch
    {
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 8,
        DataType.Complex128 => 16,
        DataType.Float or DataType.Int32 or DataType.Uint32 => 4,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
        _ => 1,
    };
}
