using System.Diagnostics;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn eval --model M --data D [--classes 3,5] [--json] [--batch N]</c>.</summary>
[Verb("eval", HelpText = "Measure a classifier's accuracy on labelled data: overall, per class, and on the classes to forget versus the others.")]
public sealed class EvalVerb : DataOptionsBase, ICommand
{
    [Option("model", Required = true, HelpText = "The .onnx classifier.")]
    public string Model { get; set; } = "";

    [Option("classes", HelpText = "Classes to report apart (forget_acc; the others: retain_acc), e.g. 3,5, or class names of the data.")]
    public string? Classes { get; set; }

    [Option("batch", Default = Evaluator.DefaultBatchSize, HelpText = "Samples per inference batch.")]
    public int Batch { get; set; } = Evaluator.DefaultBatchSize;

    public int Run(CliConsole console)
    {
        if (Batch < 1)
            throw new UserInputException($"--batch {Batch}: expected a positive number of samples");
        var device = ResolveDevice();
        var progress = CreateProgress(console);

        var model = ModelFile.Load(Model);
        var dataOptions = ToDataOptions(model);
        var info = ClassifierInfo.Analyze(model, Model);
        using var data = DatasetLoader.Open(dataOptions, info.Input);
        DatasetLoader.CheckLabels(data, info.ClassCount);
        var forget = Classes is null ? null : ClassArgument.Parse(Classes, info.ClassCount, data.ClassNames);

        PhaseProgress? phase = null;
        var clock = Stopwatch.StartNew();
        AccuracyReport report;
        try
        {
            report = Evaluator.Evaluate(model, info, data, device, Batch, forget, (done, total) =>
            {
                phase ??= progress.Phase("eval", total);
                phase.Step(done);
            });
        }
        finally
        {
            phase?.Dispose();
        }
        var seconds = clock.Elapsed.TotalSeconds;

        if (Json)
            JsonOutput.Write(console.Out, JsonOutput.Accuracy(report));
        else
            WriteText(console.Out, report, data, dataOptions.Preprocessing, device.ToString(), seconds);
        return 0;
    }

    private void WriteText(TextWriter writer, AccuracyReport report, ILabeledDataset data, Preprocessing preprocessing, string device, double seconds)
    {
        var block = new KeyValueBlock();
        block.Add("model", Model);
        block.Add("data", $"{data.Source}: {Format.Count(data.Count)} samples" + (data.SkippedCount > 0 ? $" ({Format.Count(data.SkippedCount)} bad files skipped)" : ""));
        block.Add("preprocessing", preprocessing.ToString());
        block.Add("accuracy", $"{Format.Percent(report.Accuracy)}  ({Format.Count(report.Correct)} / {Format.Count(report.Count)})");
        if (report.ForgetClasses is { } forget)
        {
            block.Add("forget", $"{Format.Percent(report.ForgetAccuracy)}  (classes {string.Join(", ", forget)}; {Format.Count(report.ForgetCount)} samples)");
            block.Add("retain", $"{Format.Percent(report.RetainAccuracy)}  (other classes; {Format.Count(report.RetainCount)} samples)");
        }
        block.Add("time", $"{Format.Seconds(seconds)} on {device}" + (seconds > 0 ? $" ({Format.Count((long)(report.Count / seconds))} samples/s)" : ""));
        block.Write(writer);
        writer.WriteLine();

        var names = data.ClassNames;
        var marked = report.ForgetClasses is not null;
        string[] headers = ["class", .. names is null ? Array.Empty<string>() : ["name"], "samples", "correct", "accuracy", .. marked ? ["set"] : Array.Empty<string>()];
        var table = new TextTable(headers);
        for (var c = 0; c < report.ClassCount; c++)
        {
            string[] cells =
            [
                c.ToString(System.Globalization.CultureInfo.InvariantCulture),
                .. names is null ? Array.Empty<string>() : [c < names.Count ? names[c] : ""],
                Format.Count(report.ClassCounts[c]),
                Format.Count(report.ClassCorrect[c]),
                Format.Percent(report.PerClassAccuracy[c]),
                .. marked ? [report.ForgetClasses!.Contains(c) ? "forget" : "retain"] : Array.Empty<string>(),
            ];
            table.Add(cells);
        }
        table.Write(writer);
    }
}
