using System.Text.Json.Nodes;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Losses;
using OnnxUnlearn.Training.Optimizers;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn artifacts --model M --out DIR [--optimizer ...] [--freeze ...]</c>.</summary>
[Verb("artifacts", HelpText = "Write training artifacts (training step, eval graph, initial state, manifest.json) that any ONNX Runtime binding can train with, no training build needed.")]
public sealed class ArtifactsVerb : CommonOptions, ICommand
{
    [Option("model", Required = true, HelpText = "The .onnx classifier.")]
    public string Model { get; set; } = "";

    [Option("out", Required = true, HelpText = "Folder to write training.onnx, eval.onnx, init.onnx and manifest.json into.")]
    public string Out { get; set; } = "";

    [Option("optimizer", Default = "adam", HelpText = "adam, adamw or sgd.")]
    public string Optimizer { get; set; } = "adam";

    [Option("momentum", Default = 0.9f, HelpText = "SGD momentum.")]
    public float Momentum { get; set; } = 0.9f;

    [Option("weight-decay", Default = 0f, HelpText = "Weight decay (L2 for sgd/adam, decoupled for adamw).")]
    public float WeightDecay { get; set; }

    [Option("bn", Default = BatchNormMode.Train, HelpText = "BatchNorm: train, batch or frozen.")]
    public BatchNormMode BatchNorm { get; set; } = BatchNormMode.Train;

    [Option("freeze", Separator = ',', HelpText = "Initializer name globs to keep fixed.")]
    public IEnumerable<string> Freeze { get; set; } = [];

    [Option("trainable", Separator = ',', HelpText = "Train only initializers matching these globs.")]
    public IEnumerable<string> Trainable { get; set; } = [];

    public int Run(CliConsole console)
    {
        var model = ModelFile.LoadForCompute(Model);
        var info = ClassifierInfo.Analyze(model, Model);
        ModelInspector.CheckTrainability(model, info).ThrowIfBlocked(Model);
        var optimizer = new OptimizerSettings { Kind = OptimizerSettings.ParseKind(Optimizer), Momentum = Momentum, WeightDecay = WeightDecay };
        // The training graph gets a dynamic batch axis; eval.onnx keeps the graph as given.
        var trainable = DynamicBatchPass.Run(model, info);
        var graph = TrainingGraphBuilder.Build(trainable.Model, trainable.Shapes, new TrainingGraphOptions
        {
            Objective = new Objective.Classification(new LossOptions()),
            Optimizer = optimizer,
            BatchNorm = BatchNorm,
            Freeze = [.. Freeze],
            Trainable = [.. Trainable],
        });
        var settings = new JsonObject
        {
            ["optimizer"] = Optimizer,
            ["momentum"] = Momentum,
            ["weight_decay"] = WeightDecay,
            ["bn"] = BatchNorm.ToString().ToLowerInvariant(),
            ["loss"] = "mean softmax cross-entropy on the logits",
        };
        var files = TrainingArtifacts.Write(model, graph, Out, settings);
        CreateProgress(console).Info($"wrote {string.Join(", ", files)} to {Out}: {graph.Parameters.Count()} trained tensors, {graph.State.Count} state tensors in all");
        if (Json)
            Output.JsonOutput.Write(console.Out, new JsonObject { ["out"] = Out, ["files"] = Output.JsonOutput.Array(files), ["state"] = graph.State.Count });
        return 0;
    }
}
