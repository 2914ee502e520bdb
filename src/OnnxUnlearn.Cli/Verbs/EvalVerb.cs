using System.Diagnostics;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn eval --model M --data D [--classes 3,5] [--mia --train TRAIN] [--json] [--batch N]</c>.</summary>
[Verb("eval", HelpText = "Measure a classifier's accuracy on labelled data: overall, per class, and on the classes to forget versus the others.")]
public sealed class EvalVerb : DataOptionsBase, ICommand
{
    [Option("model", Required = true, HelpText = "The .onnx classifier.")]
    public string Model { get; set; } = "";

    [Option("classes", HelpText = "Classes to report apart (forget_acc; the others: retain_acc), e.g. 3,5, or class names of the data.")]
    public string? Classes { get; set; }

    [Option("batch", Default = Evaluator.DefaultBatchSize, HelpText = "Samples per inference batch.")]
    public int Batch { get; set; } = Evaluator.DefaultBatchSize;

    [Option("mia", HelpText = "Also run the membership inference attacks (entropy, confidence) on the --classes samples of --train; --data gives the non-members.")]
    public bool Mia { get; set; }

    [Option("train", HelpText = "Training data for --mia (same data flags): members are its samples of the other classes, the attacks' targets its samples of --classes.")]
    public string? Train { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the balanced member/non-member draw of --mia.")]
    public int Seed { get; set; }

    public int Run(CliConsole console)
    {
        if (Batch < 1)
            throw new UserInputException($"--batch {Batch}: expected a positive number of samples");
        if (Mia && (Train is null || Classes is null))
            throw new UserInputException("--mia needs --train (the training data) and --classes (the forgotten classes, whose training samples are attacked)");
        if (Train is not null && !Mia)
            throw new UserInputException("--train is only read for --mia; add --mia");
        var device = ResolveDevice();
        var progress = CreateProgress(console);

        var model = ModelFile.LoadForCompute(Model);
        var dataOptions = ToDataOptions(model);
        var info = ClassifierInfo.Analyze(model, Model);
        using var data = DatasetLoader.Open(dataOptions, info.Input);
        DatasetLoader.CheckLabels(data, info.ClassCount);
        WarnIfUnscaledPixels(data, model, console.Err);
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
        var mia = Mia ? Attack(model, info, data, forget!, device, progress) : null;

        if (Json)
        {
            var json = JsonOutput.Accuracy(report);
            if (mia is not null)
            {
                json["mia_entropy"] = double.IsFinite(mia.Entropy) ? mia.Entropy : null;
                json["mia_confidence"] = double.IsFinite(mia.Confidence) ? mia.Confidence : null;
            }
            JsonOutput.Write(console.Out, json);
        }
        else
            WriteText(console.Out, report, data, dataOptions.Preprocessing, device.ToString(), seconds, mia);
        return 0;
    }

    /// <summary>The membership inference attacks: members and targets from --train, non-members from --data.</summary>
    private MiaReport Attack(Ir.Model model, ClassifierInfo info, ILabeledDataset test, IReadOnlySet<int> forget, Runtime.Device device, Progress progress)
    {
        using var train = DatasetLoader.Open(ToDataOptions(model, Train), info.Input);
        DatasetLoader.CheckLabels(train, info.ClassCount);
        var samples = MiaSamples.Select(train, test, forget, Seed);
        progress.Info($"membership attacks: {Format.Count(samples.Members.Length)} members of {train.Source}, {Format.Count(samples.NonMembers.Length)} non-members of {test.Source}, {Format.Count(samples.Targets.Length)} targets");
        using var session = Evaluator.OpenSession(model, device);
        return MembershipInference.Run(session, info, train, test, samples, Batch);
    }

    private void WriteText(TextWriter writer, AccuracyReport report, ILabeledDataset data, Preprocessing preprocessing, string device, double seconds,
        MiaReport? mia = null)
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
        if (mia is not null)
        {
            block.Add("mia entropy", $"{mia.Entropy.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture)}  (mean membership probability of the {Format.Count(mia.TargetCount)} training samples of classes {string.Join(", ", report.ForgetClasses!)})");
            block.Add("mia confidence", $"{Format.Percent(mia.Confidence)}  (of them classed as non-members; attacks trained on {Format.Count(mia.MemberCount)} members, {Format.Count(mia.NonMemberCount)} non-members)");
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
