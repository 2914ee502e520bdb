using System.Globalization;
using System.Text.Json.Nodes;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Serialization;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn compare --a A.onnx --b B.onnx --data TEST [--classes 3] [--train TRAIN]</c>.</summary>
[Verb("compare", HelpText = "Compare two classifiers (e.g. unlearned vs retrained): accuracy per class, prediction agreement, weight and output distances, and membership inference with --train.")]
public sealed class CompareVerb : DataOptionsBase, ICommand
{
    [Option('a', "model-a", Required = true, HelpText = "(--a or -a) The first .onnx classifier (the reference of the relative weight distances).")]
    public string A { get; set; } = "";

    [Option('b', "model-b", Required = true, HelpText = "(--b or -b) The second .onnx classifier, with the same input and classes.")]
    public string B { get; set; } = "";

    [Option("classes", HelpText = "Forgotten classes, e.g. 3 or 3,5: forget/retain accuracy, the activation distance on their samples, and the attacks' targets.")]
    public string? Classes { get; set; }

    [Option("train", HelpText = "Training data (same data flags) for the membership inference attacks; needs --classes. Members: its samples of the other classes; targets: its samples of --classes; non-members: --data's samples of the other classes.")]
    public string? Train { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the balanced member/non-member draw of the attacks.")]
    public int Seed { get; set; }

    [Option("batch", Default = Evaluator.DefaultBatchSize, HelpText = "Samples per inference batch.")]
    public int Batch { get; set; } = Evaluator.DefaultBatchSize;

    public int Run(CliConsole console)
    {
        if (Batch < 1)
            throw new UserInputException($"--batch {Batch}: expected a positive number of samples");
        if (Train is not null && Classes is null)
            throw new UserInputException("--train is for the membership inference attacks on the forgotten classes' samples; give --classes too");
        var device = ResolveDevice();
        var progress = CreateProgress(console);

        var modelA = ModelFile.LoadForCompute(A);
        var infoA = ClassifierInfo.Analyze(modelA, A);
        var modelB = ModelFile.LoadForCompute(B);
        var infoB = ClassifierInfo.Analyze(modelB, B);
        CheckSameInterface(infoA, A, infoB, B);
        using var data = DatasetLoader.Open(ToDataOptions(modelA), infoA.Input);
        DatasetLoader.CheckLabels(data, infoA.ClassCount);
        WarnIfUnscaledPixels(data, modelA, console.Err);
        using var train = Train is null ? null : DatasetLoader.Open(ToDataOptions(modelA, Train), infoA.Input);
        if (train is not null) DatasetLoader.CheckLabels(train, infoA.ClassCount);
        var forget = Classes is null ? null : ClassArgument.Parse(Classes, infoA.ClassCount, data.ClassNames);
        var miaSamples = train is null ? null : MiaSamples.Select(train, data, forget!, Seed);

        var forgetIndices = forget is null ? null : Enumerable.Range(0, data.Count).Where(i => forget.Contains(data.Labels[i])).ToArray();
        var trainForget = train is null ? null : miaSamples!.Targets;
        var a = Measure(modelA, infoA, A, data, forget, forgetIndices, train, trainForget, miaSamples, device, progress);
        var b = Measure(modelB, infoB, B, data, forget, forgetIndices, train, trainForget, miaSamples, device, progress);

        var classCount = infoA.ClassCount;
        var comparison = new Comparison(
            a, b,
            ModelComparison.Agreement(a.Predictions, b.Predictions),
            forgetIndices is null ? null : Agreement(a.Predictions, b.Predictions, forgetIndices),
            forgetIndices is null ? null : Agreement(a.Predictions, b.Predictions, Enumerable.Range(0, data.Count).Except(forgetIndices).ToArray()),
            ModelComparison.MeanL2Distance(a.DataDistanceRows, b.DataDistanceRows, classCount),
            a.DataDistanceRows.Length / classCount,
            trainForget is null ? null : ModelComparison.MeanL2Distance(a.TrainForgetRows!, b.TrainForgetRows!, classCount),
            ModelComparison.CompareWeights(modelA, modelB));

        if (Json)
            JsonOutput.Write(console.Out, ToJson(comparison, data, forget, trainForget?.Length ?? 0));
        else
            WriteText(console.Out, comparison, data, forget, trainForget?.Length ?? 0);
        return 0;
    }

    /// <summary>One model's outputs and figures.</summary>
    private sealed record Side(string Path, AccuracyReport Accuracy, int[] Predictions, float[] DataDistanceRows, float[]? TrainForgetRows, MiaReport? Mia);

    private sealed record Comparison(Side A, Side B, double Agreement, double? AgreementForget, double? AgreementRetain,
        double ActivationDistance, int ActivationCount, double? TrainActivationDistance, WeightComparison Weights);

    private Side Measure(Model model, ClassifierInfo info, string path, ILabeledDataset data, IReadOnlySet<int>? forget, int[]? forgetIndices,
        ILabeledDataset? train, int[]? trainForget, MiaSamples? miaSamples, Runtime.Device device, Progress progress)
    {
        progress.Info($"running {path} on {data.Source}" + (train is null ? "" : $" and {train.Source}"));
        using var session = Evaluator.OpenSession(model, device);
        var probabilities = ClassProbabilities.Compute(session, info, data, batchSize: Batch);
        var predictions = ClassProbabilities.Predictions(probabilities, info.ClassCount);
        var accuracy = AccuracyReport.FromPredictions(data.Labels, predictions, info.ClassCount, forget);
        var distanceRows = forgetIndices is null ? probabilities : Rows(probabilities, forgetIndices, info.ClassCount);
        var trainRows = train is null ? null : ClassProbabilities.Compute(session, info, train, trainForget, Batch);
        var mia = train is null ? null : MembershipInference.Run(session, info, train, data, miaSamples!, Batch);
        return new Side(path, accuracy, predictions, distanceRows, trainRows, mia);
    }

    private static float[] Rows(float[] table, int[] indices, int classCount)
    {
        var rows = new float[indices.Length * classCount];
        for (var k = 0; k < indices.Length; k++)
            table.AsSpan(indices[k] * classCount, classCount).CopyTo(rows.AsSpan(k * classCount));
        return rows;
    }

    private static double? Agreement(int[] a, int[] b, int[] indices) =>
        indices.Length == 0 ? null : ModelComparison.Agreement([.. indices.Select(i => a[i])], [.. indices.Select(i => b[i])]);

    private static void CheckSameInterface(ClassifierInfo a, string pathA, ClassifierInfo b, string pathB)
    {
        if (a.ClassCount != b.ClassCount)
            throw new UserInputException($"{pathB}: {b.ClassCount} classes but {pathA} has {a.ClassCount}; compare models of the same classes");
        if (!a.Input.SampleDims.SequenceEqual(b.Input.SampleDims) || a.Input.Layout != b.Input.Layout)
            throw new UserInputException($"{pathB}: input {b.Input} but {pathA} has {a.Input}; compare models of the same input");
    }

    private JsonObject ToJson(Comparison c, ILabeledDataset data, IReadOnlySet<int>? forget, int trainForgetCount)
    {
        JsonObject SideJson(Side side)
        {
            var json = new JsonObject { ["model"] = side.Path };
            foreach (var (key, value) in JsonOutput.Accuracy(side.Accuracy).ToList())
                json[key] = value?.DeepClone();
            if (side.Mia is { } mia)
            {
                json["mia_entropy"] = Finite(mia.Entropy);
                json["mia_confidence"] = Finite(mia.Confidence);
            }
            return json;
        }
        var activation = new JsonObject
        {
            ["on"] = forget is null ? "all samples of --data" : "samples of the forgotten classes in --data",
            ["count"] = c.ActivationCount,
            ["mean_l2"] = Finite(c.ActivationDistance),
        };
        if (c.TrainActivationDistance is { } trainDistance)
            activation["train"] = new JsonObject { ["count"] = trainForgetCount, ["mean_l2"] = Finite(trainDistance) };
        var json = new JsonObject
        {
            ["a"] = SideJson(c.A),
            ["b"] = SideJson(c.B),
            ["data"] = data.Source,
            ["agreement"] = c.Agreement,
        };
        if (forget is not null)
        {
            json["forget_classes"] = JsonOutput.Array(forget);
            json["agreement_forget"] = c.AgreementForget;
            json["agreement_retain"] = c.AgreementRetain;
        }
        json["activation_distance"] = activation;
        json["weights"] = new JsonObject
        {
            ["total_relative"] = Finite(c.Weights.TotalRelative),
            ["layers"] = new JsonArray([.. c.Weights.Matched.Select(d => (JsonNode)new JsonObject
            {
                ["name"] = d.Name,
                ["shape"] = new JsonArray([.. d.Shape.Select(s => (JsonNode)JsonValue.Create(s))]),
                ["norm_a"] = d.NormA,
                ["relative"] = Finite(d.Relative),
            })]),
            ["mismatched"] = new JsonArray([.. c.Weights.Mismatched.Select(m => (JsonNode)new JsonObject { ["name"] = m.Name, ["a"] = m.InA, ["b"] = m.InB })]),
        };
        return json;
    }

    /// <summary>JSON has no NaN or infinity: those become null.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private void WriteText(TextWriter writer, Comparison c, ILabeledDataset data, IReadOnlySet<int>? forget, int trainForgetCount)
    {
        var classes = forget is null ? "" : string.Join(", ", forget);
        var block = new KeyValueBlock();
        block.Add("a", A);
        block.Add("b", B);
        block.Add("data", $"{data.Source}: {Format.Count(data.Count)} samples");
        var agreeing = (long)Math.Round(c.Agreement * data.Count);
        block.Add("agreement", $"{Format.Percent(c.Agreement)}  (same prediction on {Format.Count(agreeing)} of {Format.Count(data.Count)} samples)");
        if (forget is not null)
            block.Continue($"{Format.Percent(c.AgreementForget)} on classes {classes}, {Format.Percent(c.AgreementRetain)} on the others");
        block.Add("activation distance", $"{Number(c.ActivationDistance)}  (mean L2 between softmax outputs on {Format.Count(c.ActivationCount)} " +
            (forget is null ? "samples of --data)" : $"samples of classes {classes} in --data)"));
        if (c.TrainActivationDistance is { } trainDistance)
            block.Continue($"{Number(trainDistance)}  (on the {Format.Count(trainForgetCount)} training samples of classes {classes})");
        block.Add("weights", $"‖Wa−Wb‖/‖Wa‖ = {Number(c.Weights.TotalRelative)} over {c.Weights.Matched.Count} matched initializers" +
            (c.Weights.Mismatched.Count > 0 ? $"; {c.Weights.Mismatched.Count} differ in name or shape" : ""));
        if (c.A.Mia is { } miaA)
            block.Add("attacks", $"{Format.Count(miaA.MemberCount)} members, {Format.Count(miaA.NonMemberCount)} non-members, {Format.Count(miaA.TargetCount)} targets " +
                "(entropy: mean membership probability; confidence: share classed as non-members)");
        block.Write(writer);
        writer.WriteLine();

        var summary = new TextTable("", "a", "b");
        summary.Add("accuracy", Format.Percent(c.A.Accuracy.Accuracy), Format.Percent(c.B.Accuracy.Accuracy));
        if (forget is not null)
        {
            summary.Add("forget acc", Format.Percent(c.A.Accuracy.ForgetAccuracy), Format.Percent(c.B.Accuracy.ForgetAccuracy));
            summary.Add("retain acc", Format.Percent(c.A.Accuracy.RetainAccuracy), Format.Percent(c.B.Accuracy.RetainAccuracy));
        }
        if (c.A.Mia is not null && c.B.Mia is not null)
        {
            summary.Add("mia entropy", Number(c.A.Mia.Entropy), Number(c.B.Mia.Entropy));
            summary.Add("mia confidence", Format.Percent(c.A.Mia.Confidence), Format.Percent(c.B.Mia.Confidence));
        }
        summary.Write(writer);
        writer.WriteLine();

        var names = data.ClassNames;
        var perClass = new TextTable(["class", .. names is null ? Array.Empty<string>() : ["name"], "samples", "a acc", "b acc", .. forget is null ? Array.Empty<string>() : ["set"]]);
        for (var k = 0; k < c.A.Accuracy.ClassCount; k++)
        {
            perClass.Add([
                k.ToString(CultureInfo.InvariantCulture),
                .. names is null ? Array.Empty<string>() : [k < names.Count ? names[k] : ""],
                Format.Count(c.A.Accuracy.ClassCounts[k]),
                Format.Percent(c.A.Accuracy.PerClassAccuracy[k]),
                Format.Percent(c.B.Accuracy.PerClassAccuracy[k]),
                .. forget is null ? Array.Empty<string>() : [forget.Contains(k) ? "forget" : "retain"],
            ]);
        }
        perClass.Write(writer);
        writer.WriteLine();

        var weights = new TextTable("initializer", "shape", "‖Wa‖", "‖Wa−Wb‖/‖Wa‖");
        foreach (var d in c.Weights.Matched)
            weights.Add(d.Name, string.Join("x", d.Shape), Number(d.NormA), Number(d.Relative));
        weights.AlignRight(2, 3).Write(writer);
        if (c.Weights.Mismatched.Count > 0)
        {
            writer.WriteLine();
            var mismatched = new TextTable("initializer not matched", "in a", "in b");
            foreach (var m in c.Weights.Mismatched)
                mismatched.Add(m.Name, m.InA ?? "-", m.InB ?? "-");
            mismatched.Write(writer);
        }
    }

    private static string Number(double value) =>
        double.IsNaN(value) ? "-" : double.IsInfinity(value) ? "inf" : value.ToString("0.0000", CultureInfo.InvariantCulture);
}
