using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Data.Npy;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn grad --model M --data D [--offset 0] [--count 64] [--bn train|frozen] [--wrt params|input] --out grads.npz</c>.</summary>
[Verb("grad", HelpText = "Compute the cross-entropy loss of a batch and its gradient with respect to every parameter (or the input) and write them to an .npz.")]
public sealed class GradVerb : DataOptionsBase, ICommand
{
    [Option("model", Required = true, HelpText = "The .onnx classifier.")]
    public string Model { get; set; } = "";

    [Option("out", Required = true, HelpText = "The .npz to write: 'loss' and one array per parameter, named as the initializer (or as the input with --wrt input).")]
    public string Out { get; set; } = "";

    [Option("offset", Default = 0, HelpText = "First sample of the batch.")]
    public int Offset { get; set; }

    [Option("count", Default = 64, HelpText = "Samples in the batch.")]
    public int Count { get; set; } = 64;

    [Option("bn", Default = BatchNormMode.Frozen, HelpText = "BatchNorm: train (batch statistics) or frozen (running statistics).")]
    public BatchNormMode BatchNorm { get; set; } = BatchNormMode.Frozen;

    [Option("wrt", Default = "params", HelpText = "Differentiate with respect to: params or input.")]
    public string WithRespectTo { get; set; } = "params";

    public int Run(CliConsole console)
    {
        var wrtInput = WithRespectTo switch
        {
            "params" => false,
            "input" => true,
            _ => throw new UserInputException($"--wrt '{WithRespectTo}': expected params or input"),
        };
        var device = ResolveDevice();
        using var inputs = TrainingInputs.Open(this, console.Err, Model);
        var (model, info, data) = (inputs.Model, inputs.Info, inputs.Data);
        if (Offset < 0 || Count < 1 || Offset + Count > data.Count)
            throw new UserInputException($"--offset {Offset} --count {Count}: {data.Source} has {data.Count} samples; the batch must lie inside it");

        var indices = Enumerable.Range(Offset, Count).ToArray();
        var samples = new float[Count * info.Input.SampleSize];
        data.ReadSamples(indices, samples);
        var labels = indices.Select(i => (long)data.Labels[i]).ToArray();
        var result = GradientComputer.Compute(model, ShapeProbe.Run(model, info), samples, labels, BatchNorm == BatchNormMode.Frozen ? BatchNormMode.Frozen : BatchNormMode.Batch, wrtInput, device);

        var arrays = new List<(string, long[], Array)> { ("loss", [], new[] { result.Loss }) };
        arrays.AddRange(result.Gradients.Select(g => (g.Key, g.Value.Dims, (Array)g.Value.Values)));
        AtomicFiles.Write(Out, stream => NpzWriter.Write(stream, arrays));
        CreateProgress(console).Info($"loss {result.Loss:G6} on samples {Offset}..{Offset + Count - 1}; {result.Gradients.Count} gradient arrays written to {Out}");
        if (Json)
            Output.JsonOutput.Write(console.Out, new System.Text.Json.Nodes.JsonObject { ["loss"] = result.Loss, ["arrays"] = result.Gradients.Count, ["out"] = Out });
        return 0;
    }
}
