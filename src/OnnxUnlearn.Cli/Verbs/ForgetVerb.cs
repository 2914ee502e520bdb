using System.Globalization;
using System.Text.Json.Nodes;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Reporting;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Optimizers;
using OnnxUnlearn.Unlearning;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn forget --model M --data D --classes 3[,5] --out OUT.onnx</c>: UNSIR.</summary>
[Verb("forget", HelpText = "Make a classifier forget one or more classes (UNSIR: error-maximising noise, impair, repair) and write the new model.")]
public sealed class ForgetVerb : DataOptionsBase, ICommand
{
    private static readonly UnsirSettings Defaults = new();

    [Option("model", Required = true, HelpText = "The .onnx classifier (never modified).")]
    public string Model { get; set; } = "";

    [Option("classes", Required = true, HelpText = "Classes to forget, e.g. 3 or 3,5 (or class names of the data).")]
    public string Classes { get; set; } = "";

    [Option("out", Required = true, HelpText = "Where to write the new .onnx model (written atomically; not the input).")]
    public string Out { get; set; } = "";

    [Option("test", HelpText = "Held-out labelled data for the before/after metrics (read with the same data flags); without it, --data is used.")]
    public string? Test { get; set; }

    [Option("report", HelpText = "Write the JSON report to this file.")]
    public string? Report { get; set; }

    [Option("report-dir", HelpText = "Write a report folder: report.json (as --report), report.md (tables, settings, timings) and charts as PNG and SVG.")]
    public string? ReportDir { get; set; }

    [Option("baseline", HelpText = "A reference model (e.g. retrained from scratch without the classes) measured on the same data and put next to ours in the report.")]
    public string? Baseline { get; set; }

    [Option("mia", HelpText = "Also run the membership inference attacks (before, after, baseline): members and targets from --data (the training data), non-members from --test (required).")]
    public bool Mia { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of every random choice (retained subset, noise init, shuffling).")]
    public int Seed { get; set; }

    [Option("noise-batch", Default = 256, HelpText = "Noise samples in all, shared evenly among the forgotten classes (at least --min-noise-per-class each).")]
    public int NoiseBatch { get; set; } = Defaults.NoiseBatch;

    [Option("min-noise-per-class", Default = 64, HelpText = "Least noise samples per forgotten class.")]
    public int MinNoisePerClass { get; set; } = Defaults.MinNoisePerClass;

    [Option("noise-steps", Default = 40, HelpText = "Adam steps on the noise.")]
    public int NoiseSteps { get; set; } = Defaults.NoiseSteps;

    [Option("noise-lr", Default = 0.1f, HelpText = "Adam learning rate of the noise.")]
    public float NoiseLearningRate { get; set; } = Defaults.NoiseLearningRate;

    [Option("noise-l2", Default = 0.1f, HelpText = "λ of the noise objective −CE(f(noise), class) + λ·mean(Σ noise²).")]
    public float NoiseL2 { get; set; } = Defaults.NoiseL2;

    [Option("noise-copies", Default = 20, HelpText = "Times the whole noise batch is repeated in the impair set.")]
    public int NoiseCopies { get; set; } = Defaults.NoiseCopies;

    [Option("retain-per-class", Default = 1000, HelpText = "Retained samples per retained class (random, with --seed).")]
    public int RetainPerClass { get; set; } = Defaults.RetainPerClass;

    [Option("impair-lr", Default = 0.002f, HelpText = "Learning rate of the first round's impair phase (--impair-lr-growth multiplies it in each further round).")]
    public float ImpairLearningRate { get; set; } = Defaults.ImpairLearningRate;

    [Option("impair-epochs", Default = 1, HelpText = "Epochs of the impair phase.")]
    public int ImpairEpochs { get; set; } = Defaults.ImpairEpochs;

    [Option("repair-lr", Default = 0.001f, HelpText = "Learning rate of the repair phase.")]
    public float RepairLearningRate { get; set; } = Defaults.RepairLearningRate;

    [Option("repair-epochs", Default = 1, HelpText = "Epochs of the repair phase.")]
    public int RepairEpochs { get; set; } = Defaults.RepairEpochs;

    [Option("max-rounds", Default = 3, HelpText = "Impair + repair rounds at most: another round runs while the forgotten classes' samples in --data are still recognised above --forget-target.")]
    public int MaxRounds { get; set; } = Defaults.MaxRounds;

    [Option("impair-lr-growth", Default = 2f, HelpText = "Factor applied to --impair-lr at each further round.")]
    public float ImpairRateGrowth { get; set; } = Defaults.ImpairRateGrowth;

    [Option("forget-target", Default = 0.01, HelpText = "Accuracy on the forgotten classes' samples in --data that ends the rounds.")]
    public double ForgetTarget { get; set; } = Defaults.ForgetTarget;

    [Option("batch", Default = 256, HelpText = "Batch size of impair and repair.")]
    public int Batch { get; set; } = Defaults.BatchSize;

    [Option("optimizer", Default = "adam", HelpText = "Optimizer of impair and repair: adam, adamw or sgd.")]
    public string Optimizer { get; set; } = "adam";

    [Option("noise-bn", Default = BatchNormMode.Batch, HelpText = "BatchNorm in the noise phase: batch (batch statistics, running statistics untouched), frozen (running statistics) or train (batch statistics that also overwrite the running statistics: the authors' code).")]
    public BatchNormMode NoiseBatchNorm { get; set; } = Defaults.NoiseBatchNorm;

    [Option("impair-bn", Default = BatchNormMode.Train, HelpText = "BatchNorm in the impair phase: train, batch or frozen.")]
    public BatchNormMode ImpairBatchNorm { get; set; } = Defaults.ImpairBatchNorm;

    [Option("repair-bn", Default = BatchNormMode.Train, HelpText = "BatchNorm in the repair phase: train, batch or frozen.")]
    public BatchNormMode RepairBatchNorm { get; set; } = Defaults.RepairBatchNorm;

    public int Run(CliConsole console)
    {
        var settings = Settings();
        var device = ResolveDevice();
        var progress = CreateProgress(console);
        if (Path.GetFullPath(Out) == Path.GetFullPath(Model))
            throw new UserInputException($"--out '{Out}' is the input model; choose another path (the input is never modified)");
        if (Mia && Test is null)
            throw new UserInputException("--mia needs --test: the attacks take their non-members from held-out data, and --data is the training data");
        using var inputs = TrainingInputs.Open(this, console.Err, Model, Test);
        var (model, info, data, test) = (inputs.Model, inputs.Info, inputs.Data, inputs.Test);
        var forget = ClassArgument.Parse(Classes, info.ClassCount, data.ClassNames);
        UnsirUnlearner.Validate(data, forget, info.ClassCount);
        var evaluation = test ?? data;
        var baselineModel = Baseline is null ? null : ModelFile.LoadForCompute(Baseline);
        var baselineInfo = baselineModel is null ? null : ClassifierInfo.Analyze(baselineModel, Baseline!);
        if (baselineInfo is not null && (baselineInfo.ClassCount != info.ClassCount || !baselineInfo.Input.SampleDims.SequenceEqual(info.Input.SampleDims)))
            throw new UserInputException($"{Baseline}: input {baselineInfo.Input} with {baselineInfo.ClassCount} classes, but {Model} has {info.Input} with {info.ClassCount}; the baseline must be the same kind of classifier");
        var miaSamples = Mia ? MiaSamples.Select(data, test!, forget, Seed) : null;
        MiaReport? Attack(Ir.Model m, ClassifierInfo i, Dictionary<string, float[]>? weights = null)
        {
            if (miaSamples is null) return null;
            using var session = Evaluator.OpenSession(m, device, weights);
            return MembershipInference.Run(session, i, data, test!, miaSamples);
        }

        // A fixed batch is made dynamic for training only; measures and export use the model as given.
        var trainable = DynamicBatchPass.Run(model, info);
        AccuracyReport Measure(Dictionary<string, float[]>? weights) =>
            Evaluator.Evaluate(model, info, evaluation, device, Evaluator.DefaultBatchSize, forget, weights: weights);

        progress.Info($"forget classes {string.Join(", ", forget)} of {Model} ({info.ClassCount} classes) on {device}; metrics on {evaluation.Source}");
        var before = Measure(null);
        UnsirResult result;
        using (var reporter = new TrainingProgressReporter(progress))
            result = UnsirUnlearner.Run(trainable.Model, trainable.Info, trainable.Shapes, data, [.. forget], settings, device, reporter);
        var afterImpair = Measure(result.AfterImpair);

        var export = ModelExporter.ForExport(ModelFile.LoadProto(Model), result.Initializers);
        var hyperparameters = Hyperparameters(settings, forget.Count);
        var inputSha = ModelExporter.Sha256(Model);
        ModelExporter.SetMetadata(export.Proto, new Dictionary<string, string>
        {
            ["version"] = ModelExporter.ToolVersion,
            ["job"] = "forget",
            ["method"] = "unsir",
            ["forget_classes"] = string.Join(",", forget),
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            ["hyperparameters"] = hyperparameters.ToJsonString(),
            ["source_sha256"] = inputSha,
            ["preprocess"] = inputs.DataOptions.Preprocessing.ToMetadata(),
        });
        var outputSha = ModelExporter.Write(export, Model, Out);
        var after = Measure(result.Initializers);
        var miaBefore = Attack(model, info);
        var miaAfter = Attack(model, info, result.Initializers);
        var baseline = baselineModel is null ? null : Evaluator.Evaluate(baselineModel, baselineInfo!, evaluation, device, Evaluator.DefaultBatchSize, forget);
        var miaBaseline = baselineModel is null ? null : Attack(baselineModel, baselineInfo!);

        var report = new JsonObject
        {
            ["method"] = "unsir",
            ["forget_classes"] = JsonOutput.Array(forget),
            ["device"] = device.ToString(),
            ["seed"] = Seed,
            ["hyperparameters"] = hyperparameters,
            ["samples"] = new JsonObject { ["retain_subset"] = result.RetainSubsetCount, ["noise"] = result.NoiseCount },
            ["metrics"] = new JsonObject { ["before"] = Metrics(before, miaBefore), ["after_impair"] = Metrics(afterImpair), ["after"] = Metrics(after, miaAfter) },
            ["rounds"] = result.Rounds.Count,
            ["forget_check_acc"] = result.ForgetCheckAccuracy,
            ["round_log"] = new JsonArray([.. result.Rounds.Select(r => (JsonNode)new JsonObject
            {
                ["impair_lr"] = r.ImpairLearningRate,
                ["forget_check_acc"] = r.ForgetCheckAccuracy,
                ["impair_s"] = Math.Round(r.ImpairSeconds, 3),
                ["repair_s"] = Math.Round(r.RepairSeconds, 3),
            })]),
            ["evaluated_on"] = test is null ? $"{evaluation.Source} (--data: no --test given)" : evaluation.Source,
            ["timings_s"] = new JsonObject
            {
                ["noise"] = Math.Round(result.TimingsSeconds["noise"], 3),
                ["impair"] = Math.Round(result.TimingsSeconds["impair"], 3),
                ["repair"] = Math.Round(result.TimingsSeconds["repair"], 3),
                ["total"] = Math.Round(result.TimingsSeconds["total"], 3),
            },
            ["input_sha256"] = inputSha,
            ["output_sha256"] = outputSha,
        };
        if (baseline is not null)
        {
            var baselineJson = Metrics(baseline, miaBaseline);
            baselineJson["model"] = Baseline;
            report["baseline"] = baselineJson;
        }
        if (Report is not null)
            AtomicFiles.Write(Report, stream => JsonOutput.Write(new StreamWriter(stream) { AutoFlush = true }, report, indented: true));
        if (ReportDir is not null)
        {
            var readable = new UnlearningReport
            {
                Method = "unsir",
                Model = Model,
                Output = Out,
                ForgetClasses = [.. forget],
                ClassNames = evaluation.ClassNames,
                EvaluatedOn = (string)report["evaluated_on"]!,
                Before = new ModelFigures("before (original)", before, miaBefore),
                AfterImpair = new ModelFigures("after impair", afterImpair),
                After = new ModelFigures("after UNSIR", after, miaAfter),
                Baseline = baseline is null ? null : new ModelFigures("baseline (retrained)", baseline, miaBaseline),
                BaselineModel = Baseline,
                Settings = [new("seed", Seed.ToString(CultureInfo.InvariantCulture)), new("device", device.ToString()),
                    .. hyperparameters.Select(p => new KeyValuePair<string, string>(p.Key,
                        p.Value is JsonValue v && v.TryGetValue<string>(out var str) ? str : p.Value?.ToJsonString() ?? "null"))],
                TimingsSeconds = result.TimingsSeconds,
                Losses = new[] { "noise", "impair", "repair" }.Where(result.Losses.ContainsKey).ToDictionary(p => p, p => result.Losses[p]),
                Rounds = result.Rounds.Count,
                Noise = new LearnedNoise(result.Noise, result.NoisePerClass, info.Input),
            };
            using var text = new StringWriter();
            JsonOutput.Write(text, report, indented: true);
            var files = ReportWriter.WriteDirectory(ReportDir, readable, text.ToString());
            progress.Info($"report written to {ReportDir}: {string.Join(", ", files)}");
        }
        if (Json)
            JsonOutput.Write(console.Out, report);
        if (!progress.Quiet)
            WriteTable(console.Err, before, afterImpair, after, forget, result, baseline, miaBefore, miaAfter, miaBaseline);
        return 0;
    }

    private UnsirSettings Settings()
    {
        void Positive(int value, string flag) { if (value < 1) throw new UserInputException($"{flag} {value}: expected a positive number"); }
        void PositiveRate(float value, string flag) { if (!(value > 0) || !float.IsFinite(value)) throw new UserInputException($"{flag} {value}: expected a positive learning rate"); }
        Positive(NoiseBatch, "--noise-batch");
        Positive(MinNoisePerClass, "--min-noise-per-class");
        Positive(NoiseSteps, "--noise-steps");
        Positive(NoiseCopies, "--noise-copies");
        Positive(RetainPerClass, "--retain-per-class");
        Positive(ImpairEpochs, "--impair-epochs");
        Positive(RepairEpochs, "--repair-epochs");
        Positive(Batch, "--batch");
        Positive(MaxRounds, "--max-rounds");
        if (ForgetTarget is < 0 or > 1) throw new UserInputException($"--forget-target {ForgetTarget}: expected a fraction in [0, 1]");
        PositiveRate(NoiseLearningRate, "--noise-lr");
        PositiveRate(ImpairLearningRate, "--impair-lr");
        PositiveRate(RepairLearningRate, "--repair-lr");
        if (!(ImpairRateGrowth >= 1) || !float.IsFinite(ImpairRateGrowth)) throw new UserInputException($"--impair-lr-growth {ImpairRateGrowth}: expected a factor of 1 or more");
        if (NoiseL2 < 0) throw new UserInputException($"--noise-l2 {NoiseL2}: expected 0 or more");
        return new UnsirSettings
        {
            NoiseBatch = NoiseBatch,
            MinNoisePerClass = MinNoisePerClass,
            NoiseSteps = NoiseSteps,
            NoiseLearningRate = NoiseLearningRate,
            NoiseL2 = NoiseL2,
            NoiseCopies = NoiseCopies,
            RetainPerClass = RetainPerClass,
            ImpairLearningRate = ImpairLearningRate,
            ImpairEpochs = ImpairEpochs,
            RepairLearningRate = RepairLearningRate,
            RepairEpochs = RepairEpochs,
            BatchSize = Batch,
            Optimizer = OptimizerSettings.ParseKind(Optimizer),
            NoiseBatchNorm = NoiseBatchNorm,
            ImpairBatchNorm = ImpairBatchNorm,
            RepairBatchNorm = RepairBatchNorm,
            Seed = Seed,
            MaxRounds = MaxRounds,
            ImpairRateGrowth = ImpairRateGrowth,
            ForgetTarget = ForgetTarget,
        };
    }

    private static JsonObject Hyperparameters(UnsirSettings s, int classCount) => new()
    {
        ["noise_batch"] = s.NoiseBatch,
        ["noise_per_class"] = s.NoisePerClass(classCount),
        ["noise_steps"] = s.NoiseSteps,
        ["noise_lr"] = s.NoiseLearningRate,
        ["noise_l2"] = s.NoiseL2,
        ["noise_optimizer"] = "adam",
        ["noise_init"] = "normal(0,1) in the normalised input space",
        ["noise_copies"] = s.NoiseCopies,
        ["noise_label"] = "own class",
        ["retain_per_class"] = s.RetainPerClass,
        ["impair_lr"] = s.ImpairLearningRate,
        ["impair_epochs"] = s.ImpairEpochs,
        ["repair_lr"] = s.RepairLearningRate,
        ["repair_epochs"] = s.RepairEpochs,
        ["batch"] = s.BatchSize,
        ["optimizer"] = s.Optimizer.ToString().ToLowerInvariant(),
        ["noise_bn"] = s.NoiseBatchNorm.ToString().ToLowerInvariant(),
        ["impair_bn"] = s.ImpairBatchNorm.ToString().ToLowerInvariant(),
        ["repair_bn"] = s.RepairBatchNorm.ToString().ToLowerInvariant(),
        ["max_rounds"] = s.MaxRounds,
        ["impair_lr_growth"] = s.ImpairRateGrowth,
        ["forget_target"] = s.ForgetTarget,
        ["forget_check_per_class"] = s.ForgetCheckPerClass,
    };

    private static JsonObject Metrics(AccuracyReport r, MiaReport? mia = null)
    {
        var json = new JsonObject
        {
            ["forget_acc"] = r.ForgetAccuracy,
            ["retain_acc"] = r.RetainAccuracy,
            ["test_acc"] = r.Accuracy,
            ["per_class_acc"] = JsonOutput.Array(r.PerClassAccuracy),
        };
        if (mia is not null)
        {
            json["mia_entropy"] = double.IsFinite(mia.Entropy) ? mia.Entropy : null;
            json["mia_confidence"] = double.IsFinite(mia.Confidence) ? mia.Confidence : null;
        }
        return json;
    }

    private static void WriteTable(TextWriter writer, AccuracyReport before, AccuracyReport afterImpair, AccuracyReport after,
        IReadOnlySet<int> forget, UnsirResult result, AccuracyReport? baseline = null, MiaReport? miaBefore = null, MiaReport? miaAfter = null, MiaReport? miaBaseline = null)
    {
        writer.WriteLine();
        var withMia = miaBefore is not null;
        var table = new TextTable(["", "forget acc", "retain acc", "test acc", .. withMia ? ["mia entropy", "mia confidence"] : Array.Empty<string>()]);
        var rows = new List<(string, AccuracyReport, MiaReport?)> { ("before", before, miaBefore), ("after impair", afterImpair, null), ("after repair", after, miaAfter) };
        if (baseline is not null) rows.Add(("baseline", baseline, miaBaseline));
        foreach (var (name, r, mia) in rows)
        {
            string[] attack = !withMia ? [] : mia is null ? ["-", "-"] : [mia.Entropy.ToString("0.0000", CultureInfo.InvariantCulture), Format.Percent(mia.Confidence)];
            table.Add([name, Format.Percent(r.ForgetAccuracy), Format.Percent(r.RetainAccuracy), Format.Percent(r.Accuracy), .. attack]);
        }
        table.Write(writer);
        var t = result.TimingsSeconds;
        writer.WriteLine($"time: noise {t["noise"]:F1} s, impair {t["impair"]:F1} s, repair {t["repair"]:F1} s, total {t["total"]:F1} s; " +
            $"{result.NoiseCount} noise + {result.RetainSubsetCount} retained samples; classes {string.Join(", ", forget)}; " +
            $"{result.Rounds.Count} round{(result.Rounds.Count > 1 ? "s" : "")}" +
            (result.ForgetCheckAccuracy is null ? ", no forgotten-class samples in the data to check"
                : ": impair lr " + string.Join(", ", result.Rounds.Select(r =>
                    $"{r.ImpairLearningRate.ToString("0.###e-0", CultureInfo.InvariantCulture)} → {Format.Percent(r.ForgetCheckAccuracy!.Value)}")) +
                  " of the forgotten classes' samples in the data recognised"));
    }
}
