using System.Globalization;
using System.Text.Json.Nodes;
using CommandLine;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Losses;
using OnnxUnlearn.Training.Optimizers;

namespace OnnxUnlearn.Cli.Verbs;

/// <summary><c>onnx-unlearn train --model M --data TRAIN --out OUT.onnx [...]</c>: fine-tune, or retrain from scratch with --reinit.</summary>
[Verb("train", HelpText = "Fine-tune a classifier (or, with --reinit, train it from scratch, e.g. without --exclude-classes: the retrained baseline) and write the new model.")]
public sealed class TrainVerb : DataOptionsBase, ICommand
{
    [Option("model", Required = true, HelpText = "The .onnx classifier (never modified).")]
    public string Model { get; set; } = "";

    [Option("out", Required = true, HelpText = "Where to write the trained .onnx model.")]
    public string Out { get; set; } = "";

    [Option("test", HelpText = "Held-out labelled data to measure after training.")]
    public string? Test { get; set; }

    [Option("epochs", Default = 1, HelpText = "Passes over the training data.")]
    public int Epochs { get; set; } = 1;

    [Option("batch", Default = 256, HelpText = "Samples per step.")]
    public int Batch { get; set; } = 256;

    [Option("optimizer", Default = "adam", HelpText = "adam, adamw or sgd.")]
    public string Optimizer { get; set; } = "adam";

    [Option("lr", Default = 1e-3f, HelpText = "Learning rate.")]
    public float LearningRate { get; set; } = 1e-3f;

    [Option("momentum", Default = 0.9f, HelpText = "SGD momentum.")]
    public float Momentum { get; set; } = 0.9f;

    [Option("nesterov", HelpText = "SGD with Nesterov momentum.")]
    public bool Nesterov { get; set; }

    [Option("weight-decay", Default = 0f, HelpText = "Weight decay (L2 for sgd/adam, decoupled for adamw).")]
    public float WeightDecay { get; set; }

    [Option("clip-value", Default = 0f, HelpText = "Clip each gradient element to ±this (0: off).")]
    public float ClipValue { get; set; }

    [Option("clip-norm", Default = 0f, HelpText = "Scale gradients down to this global L2 norm (0: off).")]
    public float ClipNorm { get; set; }

    [Option("label-smoothing", Default = 0f, HelpText = "Label smoothing ε of the cross-entropy.")]
    public float LabelSmoothing { get; set; }

    [Option("bn", Default = BatchNormMode.Train, HelpText = "BatchNorm: train (batch statistics, running statistics updated), batch or frozen.")]
    public BatchNormMode BatchNorm { get; set; } = BatchNormMode.Train;

    [Option("freeze", Separator = ',', HelpText = "Initializer name globs to keep fixed, e.g. 'stem.*,block1.*'.")]
    public IEnumerable<string> Freeze { get; set; } = [];

    [Option("trainable", Separator = ',', HelpText = "Train only initializers matching these globs.")]
    public IEnumerable<string> Trainable { get; set; } = [];

    [Option("exclude-classes", HelpText = "Leave these classes out of the training data, e.g. 0,2.")]
    public string? ExcludeClasses { get; set; }

    [Option("reinit", HelpText = "Re-initialise every weight as PyTorch does by default and train from scratch.")]
    public bool Reinit { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of shuffling and re-initialisation.")]
    public int Seed { get; set; }

    public int Run(CliConsole console)
    {
        if (Epochs < 1) throw new UserInputException($"--epochs {Epochs}: expected a positive number");
        if (Batch < 1) throw new UserInputException($"--batch {Batch}: expected a positive number");
        if (!(LearningRate > 0)) throw new UserInputException($"--lr {LearningRate}: expected a positive learning rate");
        if (Path.GetFullPath(Out) == Path.GetFullPath(Model))
            throw new UserInputException($"--out '{Out}' is the input model; choose another path (the input is never modified)");
        var device = ResolveDevice();
        var progress = CreateProgress(console);
        using var inputs = TrainingInputs.Open(this, console.Err, Model, Test);
        var (model, info, data, test) = (inputs.Model, inputs.Info, inputs.Data, inputs.Test);
        var excluded = ExcludeClasses is null ? new SortedSet<int>() : ClassArgument.Parse(ExcludeClasses, info.ClassCount, data.ClassNames, "--exclude-classes");
        var samples = Enumerable.Range(0, data.Count).Where(i => !excluded.Contains(data.Labels[i])).ToArray();
        if (samples.Length == 0)
            throw new UserInputException($"{data.Source}: no samples left to train on after --exclude-classes {ExcludeClasses}");

        var options = new TrainingGraphOptions
        {
            Objective = new Objective.Classification(new LossOptions(LabelSmoothing)),
            Optimizer = new OptimizerSettings
            {
                Kind = OptimizerSettings.ParseKind(Optimizer),
                Momentum = Momentum,
                Nesterov = Nesterov,
                WeightDecay = WeightDecay,
                ClipValue = ClipValue,
                ClipNorm = ClipNorm,
            },
            BatchNorm = BatchNorm,
            Freeze = [.. Freeze],
            Trainable = [.. Trainable],
        };
        var start = Reinit ? Reinitializer.Initialize(model, Seed) : null;
        var source = start is null ? model : Ir.Model.FromProto(ModelExporter.WithInitializers(model.ToProto(), start), Model);
        // A fixed batch is made dynamic for training only; the export below writes the graph as given.
        var trainable = DynamicBatchPass.Run(source, info);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        progress.Info($"training {Model} on {Format.Count(samples.Length)} samples of {data.Source}" +
            (excluded.Count > 0 ? $" (classes {string.Join(", ", excluded)} left out)" : "") + (Reinit ? ", from scratch" : "") + $" on {device}");
        Dictionary<string, float[]> trained;
        using (var reporter = new TrainingProgressReporter(progress))
            (trained, _) = TrainingRunner.Run(trainable.Model, trainable.Shapes, options, data, samples,
                new TrainingRunSettings { Epochs = Epochs, BatchSize = Batch, LearningRate = LearningRate, Seed = Seed }, device, reporter);
        var seconds = clock.Elapsed.TotalSeconds;
        if (start is not null)
            foreach (var (name, values) in start)
                trained.TryAdd(name, values);

        var export = ModelExporter.ForExport(ModelFile.LoadProto(Model), trained);
        ModelExporter.SetMetadata(export.Proto, new Dictionary<string, string>
        {
            ["version"] = ModelExporter.ToolVersion,
            ["job"] = Reinit ? "train --reinit" : "train",
            ["settings"] = new JsonObject
            {
                ["epochs"] = Epochs, ["batch"] = Batch, ["optimizer"] = Optimizer, ["lr"] = LearningRate, ["weight_decay"] = WeightDecay,
                ["bn"] = BatchNorm.ToString().ToLowerInvariant(), ["exclude_classes"] = JsonOutput.Array(excluded), ["seed"] = Seed,
            }.ToJsonString(),
            ["source_sha256"] = ModelExporter.Sha256(Model),
            ["preprocess"] = inputs.DataOptions.Preprocessing.ToMetadata(),
        });
        var outputSha = ModelExporter.Write(export, Model, Out);

        var report = new JsonObject
        {
            ["samples"] = samples.Length,
            ["epochs"] = Epochs,
            ["seconds"] = Math.Round(seconds, 3),
            ["samples_per_second"] = Math.Round(samples.Length * (double)Epochs / seconds, 1),
            ["output_sha256"] = outputSha,
        };
        if (test is not null)
        {
            var accuracy = Evaluator.Evaluate(ModelFile.LoadForCompute(Out), info, test, device, Evaluator.DefaultBatchSize,
                excluded.Count > 0 ? excluded : null);
            report["test"] = JsonOutput.Accuracy(accuracy);
            progress.Info($"test accuracy {Format.Percent(accuracy.Accuracy)}" +
                (excluded.Count > 0 ? $"; excluded classes {Format.Percent(accuracy.ForgetAccuracy)}, others {Format.Percent(accuracy.RetainAccuracy)}" : ""));
        }
        progress.Info($"wrote {Out} ({seconds.ToString("F1", CultureInfo.InvariantCulture)} s of training)");
        if (Json)
            JsonOutput.Write(console.Out, report);
        return 0;
    }
}
