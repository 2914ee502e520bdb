using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Training;

/// <summary>
/// Training artifacts any ONNX Runtime binding can drive without a training build:
///   training.onnx  one full step (forward, loss, backward, optimizer update);
///   eval.onnx      the original model with the trained tensors as inputs (same names as the state);
///   init.onnx      no inputs; its outputs are the initial state, named as the state inputs;
///   manifest.json  every input and output, and which output feeds which input at the next step.
/// </summary>
public static class TrainingArtifacts
{
    public const string TrainingFile = "training.onnx";
    public const string EvalFile = "eval.onnx";
    public const string InitFile = "init.onnx";
    public const string ManifestFile = "manifest.json";

    public static IReadOnlyList<string> Write(Model source, TrainingGraph graph, string directory, JsonObject settings)
    {
        if (File.Exists(directory))
            throw new UserInputException($"--out '{directory}' is a file; give a folder for the artifacts");
        Directory.CreateDirectory(directory);
        var manifest = Manifest(source, graph, settings);
        using var files = new AtomicFiles();
        void Save(string name, Action<Stream> write)
        {
            using var stream = files.Create(Path.Combine(directory, name));
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        Save(TrainingFile, s => graph.Proto.WriteTo(s));
        Save(EvalFile, s => EvalModel(source, graph).WriteTo(s));
        Save(InitFile, s => InitModel(source, graph).WriteTo(s));
        Save(ManifestFile, s => JsonSerializer.Serialize(s, manifest, new JsonSerializerOptions { WriteIndented = true }));
        files.Commit();
        return [TrainingFile, EvalFile, InitFile, ManifestFile];
    }

    /// <summary>The original graph with every state tensor that is an initializer turned into an input.</summary>
    private static ModelProto EvalModel(Model source, TrainingGraph graph)
    {
        var proto = ModelFile.LoadProto(source.Path!);
        var promoted = graph.State.Where(s => s.Initializer is not null).ToDictionary(s => s.Initializer!, s => s);
        var kept = proto.Graph.Initializer.Where(t => !promoted.ContainsKey(t.Name)).ToList();
        proto.Graph.Initializer.Clear();
        proto.Graph.Initializer.AddRange(kept);
        foreach (var input in proto.Graph.Input.Where(i => promoted.ContainsKey(i.Name)).ToList())
            proto.Graph.Input.Remove(input);
        foreach (var (name, state) in promoted)
            proto.Graph.Input.Add(new ValueInfoProto { Name = name, Type = TensorTypes.Float(state.Dims) });
        return proto;
    }

    /// <summary>A model without inputs whose outputs are the initial state tensors.</summary>
    private static ModelProto InitModel(Model source, TrainingGraph graph)
    {
        var model = new Graph("init");
        foreach (var state in graph.State)
        {
            var constant = model.AddInitializer(TensorData.FromFloats(state.Name + ".initial", state.Dims, state.InitialValue));
            var output = model.AddNode("Identity", [constant], 1, null, "init/" + state.Name, outputNames: [state.Name]).Outputs[0];
            output.Type = TensorTypes.Float(state.Dims);
            model.Outputs.Add(output);
        }
        var header = new ModelProto { IrVersion = source.Header.IrVersion, ProducerName = "onnx-unlearn", ProducerVersion = ModelExporter.ToolVersion };
        header.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = source.OpsetVersion });
        return new Model(header, model).ToProto();
    }

    private static JsonObject Manifest(Model source, TrainingGraph graph, JsonObject settings)
    {
        var input = graph.Proto.Graph.Input.First(i => i.Name == graph.InputName);
        var state = new JsonArray();
        foreach (var s in graph.State)
            state.Add(new JsonObject
            {
                ["input"] = s.Name,
                ["output"] = s.OutputName,
                ["shape"] = new JsonArray([.. s.Dims.Select(d => (JsonNode)d)]),
                ["kind"] = s.Kind.ToString(),
                ["initializer"] = s.Initializer,
            });
        return new JsonObject
        {
            ["format"] = "onnx-unlearn training artifacts 1",
            ["source_model"] = Path.GetFileName(source.Path),
            ["source_sha256"] = source.Path is null ? null : ModelExporter.Sha256(source.Path),
            ["files"] = new JsonObject { ["training"] = TrainingFile, ["eval"] = EvalFile, ["init"] = InitFile },
            ["training"] = new JsonObject
            {
                ["inputs"] = new JsonObject
                {
                    ["batch"] = new JsonObject { ["name"] = graph.InputName, ["element_type"] = "float32", ["shape"] = Shape(input.Type) },
                    ["labels"] = new JsonObject { ["name"] = graph.LabelsName, ["element_type"] = "int64", ["shape"] = new JsonArray("N") },
                    ["learning_rate"] = new JsonObject { ["name"] = TrainingGraph.LearningRateName, ["element_type"] = "float32", ["shape"] = new JsonArray() },
                    ["step"] = new JsonObject { ["name"] = TrainingGraph.StepName, ["element_type"] = "float32", ["shape"] = new JsonArray(), ["note"] = "1 at the first step, +1 after each" },
                },
                ["outputs"] = new JsonObject { ["loss"] = TrainingGraph.LossName },
                ["state"] = state,
                ["loop"] = "state = run(init.onnx); for each batch: out = run(training.onnx, batch, labels, learning_rate, step, state); loss = out[loss]; state[s.input] = out[s.output] for every s",
            },
            ["eval"] = new JsonObject
            {
                ["inputs"] = new JsonArray([.. source.Graph.RealInputs.Select(v => (JsonNode)v.Name!)]),
                ["state_inputs"] = new JsonArray([.. graph.State.Where(s => s.Initializer is not null).Select(s => (JsonNode)s.Initializer!)]),
                ["outputs"] = new JsonArray([.. source.Graph.Outputs.Select(v => (JsonNode)v.Name!)]),
            },
            ["settings"] = settings,
        };
    }

    private static JsonArray Shape(TypeProto type) =>
        new([.. type.TensorType.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? (JsonNode)d.DimValue : d.DimParam)]);
}
