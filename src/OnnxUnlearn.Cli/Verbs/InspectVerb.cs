using System.Text.Json.Nodes;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn inspect MODEL [--json]</c>: what the model is and whether it can be unlearned.</summary>
[Verb("inspect", HelpText = "Describe an ONNX model: inputs and outputs, opsets, ops, parameters, classifier head, and whether it can be trained.")]
public sealed class InspectVerb : CommonOptions, ICommand
{
    [Value(0, MetaName = "MODEL", Required = true, HelpText = "The .onnx model file.")]
    public string Model { get; set; } = "";

    public int Run(CliConsole console)
    {
        var model = ModelFile.Load(Model);
        var report = ModelInspector.Inspect(model, Model);
        if (Json)
            JsonOutput.Write(console.Out, ToJson(report), indented: true);
        else
            WriteText(console.Out, report);
        return 0;
    }

    internal static void WriteText(TextWriter writer, ModelReport r)
    {
        var block = new KeyValueBlock();
        block.Add("model", r.Path + (r.FileBytes is { } size ? $" ({Format.Bytes(size)})" : ""));
        block.Add("format", $"ONNX IR version {r.IrVersion}; opsets " + string.Join(", ", r.Opsets.Select(o => $"{DomainName(o.Domain)} {o.Version}")));
        block.Add("producer", r.ProducerName.Length == 0 ? "(not recorded)" : (r.ProducerName + " " + r.ProducerVersion).Trim());
        block.Add("graph", $"'{r.GraphName}': {r.NodeCount} nodes, {r.InitializerCount} initializers" + (r.FunctionCount > 0 ? $", {r.FunctionCount} local functions" : ""));
        foreach (var (key, list) in new[] { ("inputs", r.Inputs), ("outputs", r.Outputs) })
        {
            var first = true;
            foreach (var t in list)
            {
                var line = $"{t.Name}  {t.ElementType} {t.FormatShape()}";
                if (first) block.Add(key, line); else block.Continue(line);
                first = false;
            }
            if (first) block.Add(key, "(none)");
        }
        block.Add("parameters", $"{Format.Count(r.ParameterCount)} ({Format.Bytes(r.ParameterBytes)} of floating-point initializers)"
            + (r.StatisticsCount > 0 ? $"; {Format.Count(r.ParameterCount - r.StatisticsCount)} weights + {Format.Count(r.StatisticsCount)} BatchNorm running statistics" : ""));
        block.Add("external data", r.ExternalData.Used
            ? $"yes: {r.ExternalData.TensorCount} tensors, {Format.Bytes(r.ExternalData.Bytes)} in {string.Join(", ", r.ExternalData.Files)}"
            : "no");
        if (r.Float16)
            block.Add("precision", "float16: trained and evaluated in float32, weights written back as float16");
        if (r.Quantization is { } q)
            block.Add("quantized", $"yes, {q.Describe()}");
        block.Add("input layout", r.InputLayout ?? "unknown");
        if (r.Classifier is { } c)
        {
            block.Add("classifier", $"{c.ClassCount} classes; head {HeadName(c.Head)} (output '{c.OutputName}'" + (c.LogitsName != c.OutputName ? $", logits '{c.LogitsName}')" : ")"));
            block.Add("sample shape", $"[{string.Join(", ", c.SampleDims)}] ({ModelInspector.LayoutName(c.Layout)}) at input '{c.InputName}'");
        }
        else
        {
            block.Add("classifier", "no: " + r.NotClassifierReason);
        }
        if (r.Trainability is { } t2)
        {
            if (t2.Quantization is not null)
                block.Add("trainable", $"no: the model is quantized; {QuantizationSummary.Advice}");
            else if (t2.Trainable)
                block.Add("trainable", $"yes: every op between the {t2.ParameterTensors} weight tensors, the input and the logits has a gradient rule");
            else
            {
                block.Add("trainable", $"no: {t2.Blockers.Count} node{(t2.Blockers.Count == 1 ? "" : "s")} block training");
                foreach (var b in t2.Blockers)
                    block.Continue($"node '{b.NodeName}' (op {b.QualifiedOp}, opset {b.Opset}): {b.Reason}");
            }
        }
        else
        {
            block.Add("trainable", "not checked (not a classifier this tool can handle)");
        }
        block.Add("ops", string.Join(", ", r.Ops.Select(o => $"{o.QualifiedName} {o.Count}")));
        var firstMeta = true;
        foreach (var (key, value) in r.Metadata)
        {
            var line = $"{key} = {OneLine(value)}";
            if (firstMeta) block.Add("metadata", line); else block.Continue(line);
            firstMeta = false;
        }
        block.Write(writer);
    }

    internal static JsonObject ToJson(ModelReport r)
    {
        var ops = new JsonObject();
        foreach (var o in r.Ops) ops[o.QualifiedName] = o.Count;
        var metadata = new JsonObject();
        foreach (var (key, value) in r.Metadata) metadata[key] = value;
        return new JsonObject
        {
            ["path"] = r.Path,
            ["file_bytes"] = r.FileBytes,
            ["ir_version"] = r.IrVersion,
            ["opset_imports"] = new JsonArray([.. r.Opsets.Select(o => (JsonNode)new JsonObject { ["domain"] = DomainName(o.Domain), ["version"] = o.Version })]),
            ["producer_name"] = r.ProducerName,
            ["producer_version"] = r.ProducerVersion,
            ["graph_name"] = r.GraphName,
            ["inputs"] = Tensors(r.Inputs),
            ["outputs"] = Tensors(r.Outputs),
            ["node_count"] = r.NodeCount,
            ["initializer_count"] = r.InitializerCount,
            ["function_count"] = r.FunctionCount,
            ["op_histogram"] = ops,
            ["parameter_count"] = r.ParameterCount,
            ["parameter_bytes"] = r.ParameterBytes,
            ["running_statistics_count"] = r.StatisticsCount,
            ["external_data"] = new JsonObject
            {
                ["used"] = r.ExternalData.Used,
                ["tensors"] = r.ExternalData.TensorCount,
                ["bytes"] = r.ExternalData.Bytes,
                ["files"] = JsonOutput.Array(r.ExternalData.Files),
            },
            ["metadata"] = metadata,
            ["input_layout"] = r.InputLayout,
            ["float16"] = r.Float16,
            ["quantization"] = r.Quantization is not { } q ? null : new JsonObject
            {
                ["format"] = q.Format,
                ["ops"] = new JsonObject([.. q.Ops.Select(o => KeyValuePair.Create(o.QualifiedName, (JsonNode?)o.Count))]),
            },
            ["classifier"] = r.Classifier is not { } c ? null : new JsonObject
            {
                ["input"] = c.InputName,
                ["output"] = c.OutputName,
                ["logits"] = c.LogitsName,
                ["head"] = HeadName(c.Head),
                ["num_classes"] = c.ClassCount,
                ["layout"] = ModelInspector.LayoutName(c.Layout),
                ["sample_shape"] = JsonOutput.Array(c.SampleDims),
            },
            ["not_classifier_reason"] = r.NotClassifierReason,
            ["trainability"] = r.Trainability is not { } t ? null : new JsonObject
            {
                ["trainable"] = t.Trainable,
                ["quantized"] = t.Quantization is not null,
                ["parameter_tensors"] = t.ParameterTensors,
                ["blockers"] = new JsonArray([.. t.Blockers.Select(b => (JsonNode)new JsonObject
                {
                    ["node"] = b.NodeName,
                    ["op_type"] = b.OpType,
                    ["domain"] = DomainName(b.Domain),
                    ["opset"] = b.Opset,
                    ["reason"] = b.Reason,
                })]),
            },
        };
    }

    private static JsonArray Tensors(IEnumerable<TensorSummary> tensors) =>
        new([.. tensors.Select(t => (JsonNode)new JsonObject
        {
            ["name"] = t.Name,
            ["element_type"] = t.ElementType,
            ["shape"] = t.Shape is null ? null : new JsonArray([.. t.Shape.Select(d => d.Value is { } v ? JsonValue.Create(v) : d.Symbol is { } s ? (JsonNode)JsonValue.Create(s) : null)]),
        })]);

    private static string DomainName(string domain) => domain.Length == 0 ? "ai.onnx" : domain;

    private static string HeadName(HeadKind head) => head switch
    {
        HeadKind.Softmax => "softmax",
        HeadKind.LogSoftmax => "logsoftmax",
        _ => "logits",
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
