using OnnxUnlearn.Data;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;

namespace OnnxUnlearn.Analysis;

/// <summary>What the classifier's output holds.</summary>
public enum HeadKind
{
    /// <summary>Raw scores; the loss is taken from this output directly.</summary>
    Logits,
    /// <summary>Probabilities behind a trailing Softmax; the loss is taken from the Softmax input.</summary>
    Softmax,
    /// <summary>Log-probabilities behind a trailing LogSoftmax; the loss is taken from its input.</summary>
    LogSoftmax,
}

/// <summary>
/// The parts of a model that make it a classifier: its data input, its class-score output, the
/// value that holds the logits, and the number of classes.
/// </summary>
public sealed record ClassifierInfo(InputSpec Input, Value InputValue, Value Output, Value Logits, HeadKind Head, int ClassCount)
{
    /// <summary>The batch size the input declares as a number (exporters write one unless told
    /// the axis is dynamic), or null for a symbolic batch axis.</summary>
    public int? FixedBatch => DimsOf(InputValue)?[0] is > 0 and var b ? (int)b : null;

    /// <summary>Finds the input, the head and the class count, or explains why the model is not a classifier we can handle.</summary>
    public static ClassifierInfo Analyze(Model model, string modelName)
    {
        var graph = model.Graph;
        var inputs = graph.RealInputs.ToList();
        if (inputs.Count != 1)
            throw new UserInputException($"{modelName}: the model has {inputs.Count} data inputs ({string.Join(", ", inputs.Select(i => i.Name))}); a classifier with exactly one input is required");
        var input = inputs[0];
        if (input.ElementType != TensorProto.Types.DataType.Float)
            throw new UserInputException($"{modelName}: input '{input.Name}' has element type {input.ElementType}; only float32 inputs are supported");
        var spec = InputSpecOf(input, graph, modelName);

        var output = ClassScoresOutput(graph, modelName);
        var logits = output;
        var head = HeadKind.Logits;
        var producer = SkipIdentities(output).Producer;
        if (producer is { OpType: "Softmax" or "LogSoftmax" } && producer.IsStandard)
        {
            head = producer.OpType == "Softmax" ? HeadKind.Softmax : HeadKind.LogSoftmax;
            logits = producer.Inputs[0]!;
        }
        var dims = DimsOf(output);
        if (dims is null || dims.Length != 2)
            throw new UserInputException($"{modelName}: output '{output.Name}' has shape {FormatShape(output)}; a classifier output of shape [batch, classes] is required");
        if (dims[1] is not > 1)
            throw new UserInputException($"{modelName}: output '{output.Name}' has shape {FormatShape(output)}; the class dimension must be a fixed number of at least 2");
        return new ClassifierInfo(spec, input, output, logits, head, (int)dims[1]!.Value);
    }

    /// <summary>
    /// The output holding the class scores: the only output, or, when there are several (e.g.
    /// scikit-learn's <c>label</c> and <c>probabilities</c>), the first float [batch, classes] one.
    /// The other outputs stay in the model and keep working; they are not trained on.
    /// </summary>
    private static Value ClassScoresOutput(Graph graph, string modelName)
    {
        if (graph.Outputs.Count == 1) return graph.Outputs[0];
        return graph.Outputs.FirstOrDefault(o => o.ElementType == TensorProto.Types.DataType.Float
                && DimsOf(o) is [_, > 1])
            ?? throw new UserInputException($"{modelName}: none of the outputs ({string.Join(", ", graph.Outputs.Select(o => $"'{o.Name}' {FormatShape(o)}"))}) "
                + "is a float output of shape [batch, classes]; a classifier needs one holding the class scores");
    }

    private static Value SkipIdentities(Value value)
    {
        while (value.Producer is { OpType: "Identity" } p && p.IsStandard)
            value = p.Inputs[0]!;
        return value;
    }

    private static InputSpec InputSpecOf(Value input, Graph graph, string modelName)
    {
        var dims = DimsOf(input) ?? throw new UserInputException($"{modelName}: input '{input.Name}' has no declared shape");
        if (dims.Length < 2)
            throw new UserInputException($"{modelName}: input '{input.Name}' has shape {FormatShape(input)}; a batch dimension and at least one sample dimension are required");
        var sample = dims.Skip(1).ToArray();
        if (sample.Any(d => d is null or <= 0))
            throw new UserInputException($"{modelName}: input '{input.Name}' has shape {FormatShape(input)}; every dimension but the batch must be a fixed number");
        var sampleDims = sample.Select(d => (int)d!.Value).ToArray();
        var layout = sampleDims.Length switch
        {
            3 when StartsWithNhwcTranspose(input) => InputLayout.Nhwc,
            3 when sampleDims[2] is 1 or 3 && sampleDims[0] is not (1 or 3) => InputLayout.Nhwc,
            3 => InputLayout.Nchw,
            _ => InputLayout.Flat,
        };
        return new InputSpec(input.Name, layout, sampleDims);
    }

    private static bool StartsWithNhwcTranspose(Value input) =>
        input.Uses.Any(u => u.Node.OpType == "Transpose" && u.Node.GetInts("perm") is [0, 3, 1, 2]);

    /// <summary>Declared dims: a number, or null for a symbolic/unknown dimension. Null if no shape.</summary>
    public static long?[]? DimsOf(Value value)
    {
        if (value.Initializer is { } init) return init.Dims.Select(d => (long?)d).ToArray();
        var shape = value.Type?.TensorType?.Shape;
        return shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : (long?)null).ToArray();
    }

    public static string FormatShape(Value value)
    {
        var shape = value.Type?.TensorType?.Shape;
        if (shape is null) return "(unknown)";
        return "[" + string.Join(", ", shape.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        })) + "]";
    }
}
