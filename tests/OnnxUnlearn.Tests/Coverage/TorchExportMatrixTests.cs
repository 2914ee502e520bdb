using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Evaluation;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Onnx;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Losses;
using OnnxUnlearn.Training.Optimizers;
using OnnxUnlearn.Unlearning;

namespace OnnxUnlearn.Tests.Coverage;

/// <summary>
/// Real torch.onnx.export output (torchvision ResNet, MobileNet v2/v3, EfficientNet, VGG-BN,
/// SqueezeNet and a small ViT; opsets 11, 13, 17 with dynamic and fixed batch, opsets 7 to 10 with
/// a dynamic batch; BatchNorm folded or kept), written by tools/export_matrix.py into
/// tests/fixtures/matrix with float64 autograd references. Every file must be trainable, match
/// autograd, and survive forget with its interface; at opsets 7 to 10, where most op forms differ,
/// every training graph must load and compute the reference gradients too.
/// </summary>
[TestFixture]
public class TorchExportMatrixTests
{
    /// <summary>Gradients must match to 1e-4 of each tensor's largest magnitude, as in PyTorchParityTests.</summary>
    private const double GradientTolerance = 1e-4;

    /// <summary>A tensor whose exact gradient vanishes (a BatchNorm bias followed by a linear map and
    /// another batch-statistics BatchNorm) is compared at this fraction of the model's largest gradient:
    /// float32 rounding leaves ~1e-9 there, which no relative test of the tensor alone can accept.</summary>
    private const double VanishingFloor = 1e-3;

    private static readonly string Folder = Fixtures.File("matrix");

    private sealed record Entry(string File, string Model, string Mode, int Opset, string Batch,
        Dictionary<string, (string Torch, bool Transposed)> Names, Dictionary<string, string> Running, Dictionary<string, string> Fixtures)
    {
        public override string ToString() => File;
    }

    private static readonly Lazy<Dictionary<string, Entry>> Manifest = new(ReadManifest);

    private static Dictionary<string, Entry> ReadManifest()
    {
        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Folder, "manifest.json")));
        return json.RootElement.GetProperty("models").EnumerateArray().Select(e => new Entry(
            e.GetProperty("file").GetString()!,
            e.GetProperty("model").GetString()!,
            e.GetProperty("mode").GetString()!,
            e.GetProperty("opset").GetInt32(),
            e.GetProperty("batch").ToString(),
            e.GetProperty("names").EnumerateObject().ToDictionary(p => p.Name, p => (p.Value.GetString()!,
                e.GetProperty("transposed").EnumerateArray().Any(t => t.GetString() == p.Name))),
            e.GetProperty("running").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
            e.GetProperty("fixtures").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)))
            .ToDictionary(e => e.File);
    }

    public static IEnumerable<TestCaseData> Files() =>
        Manifest.Value.Keys.Select(f => new TestCaseData(f).SetArgDisplayNames(f));

    /// <summary>Each file from opset 11 on with each of its references: eval exports against the fused
    /// (folded) model; BatchNorm-kept exports on running statistics (frozen) and on batch statistics
    /// (train). Opsets 7 to 10: <see cref="Training_graphs_at_old_opsets_match_autograd"/>.</summary>
    public static IEnumerable<TestCaseData> GradientCases() =>
        Manifest.Value.Values.Where(e => e.Opset >= 11).SelectMany(e => e.Fixtures.Keys.Select(kind =>
            new TestCaseData(e.File, kind).SetArgDisplayNames(e.File, kind)));

    [TestCaseSource(nameof(Files))]
    public void Inspect_reports_full_trainability(string file)
    {
        var entry = Manifest.Value[file];
        var report = ModelInspector.Inspect(ModelFile.Load(Path.Combine(Folder, file)), file);
        Assert.That(report.NotClassifierReason, Is.Null);
        Assert.That(report.Classifier!.ClassCount, Is.EqualTo(10));
        Assert.That(report.Trainability!.Blockers.Select(b => $"{b.NodeName} ({b.QualifiedOp}): {b.Reason}"), Is.Empty);
        Assert.That(report.Trainability.ParameterTensors, Is.EqualTo(entry.Names.Count + entry.Running.Count), "the float tensors are the torch parameters and running statistics");
    }

    [TestCaseSource(nameof(GradientCases))]
    public void Gradients_match_autograd(string file, string kind)
    {
        var entry = Manifest.Value[file];
        var expected = Fixtures.ReadNpz(Path.Combine(Folder, entry.Fixtures[kind]));
        var batch = Fixtures.ReadNpz(Path.Combine(Folder, "inputs.npz"));
        var model = ModelFile.Load(Path.Combine(Folder, file));
        var info = ClassifierInfo.Analyze(model, file);
        var shapes = ShapeProbe.Run(model, info);
        var x = batch["x"].Values.Select(v => (float)v).ToArray();
        var y = batch["y"].Values.Select(v => (long)v).ToArray();
        var bn = kind switch { "train" => BatchNormMode.Train, _ => BatchNormMode.Frozen };

        var parameters = GradientComputer.Compute(model, shapes, x, y, bn, withRespectToInput: false, Device.Cpu(1));
        var loss = expected["loss"].Values[0];
        Assert.That(parameters.Loss, Is.EqualTo(loss).Within(1e-5 * Math.Max(1, loss)), "loss");
        Assert.That(parameters.Gradients.Keys, Is.EquivalentTo(entry.Names.Keys), "the trained tensors are exactly PyTorch's parameters");
        var largest = entry.Names.Values.Max(n => expected[n.Torch].Values.Max(Math.Abs));
        var worst = 0.0;
        foreach (var (name, (torch, transposed)) in entry.Names)
        {
            var reference = expected[torch];
            var values = transposed ? Transpose(reference.Values, reference.Shape) : reference.Values;
            worst = Math.Max(worst, AssertClose($"{name} ({torch})", parameters.Gradients[name].Values, values, VanishingFloor * largest));
        }

        var input = GradientComputer.Compute(model, shapes, x, y, bn, withRespectToInput: true, Device.Cpu(1));
        worst = Math.Max(worst, AssertClose("input", input.Gradients[info.Input.Name].Values, expected["input_grad:input"].Values, 0));
        foreach (var (name, torch) in entry.Running.Where(_ => bn == BatchNormMode.Train))
            AssertClose($"running {name}", parameters.RunningStatistics[name].Values, expected["running:" + torch].Values, 0);
        TestContext.Out.WriteLine($"{file} ({kind}): loss {parameters.Loss:G6}, worst gradient error {worst:G3} of the largest magnitude");
    }

    /// <summary>The exports at opsets 7 to 10, each with each of its references.</summary>
    public static IEnumerable<TestCaseData> LowOpsetCases() =>
        Manifest.Value.Values.Where(e => e.Opset < 11).SelectMany(e => e.Fixtures.Keys.Select(kind =>
            new TestCaseData(e.File, kind).SetArgDisplayNames(e.File, kind)));

    /// <summary>
    /// What inspect's "trainable yes" promises at an old opset: the graphs that grad, train and forget
    /// build load in ONNX Runtime at the model's own opset and compute the float64 references, one
    /// step each from the reference weights and batch:
    ///   the gradient graph (grad) in the reference's BatchNorm mode (running statistics checked
    ///   with batch statistics), checked as <see cref="Gradients_match_autograd"/> checks it;
    ///   the UNSIR noise step (SGD), which moves x by −lr·(−dCE/dx + 2λx/N): with λ = 0 and lr large
    ///   enough that x' holds lr·dCE/dx to float precision, (x' − x)/lr is the input gradient;
    ///   a training step (with batch statistics in <see cref="BatchNormMode.Batch"/>): momentum SGD,
    ///   whose first step moves p by −lr·g, so (p − p')/lr is the parameter gradient again; or Adam
    ///   (clipping by value) or AdamW (clipping by norm), whose first step moves p by −lr·g/(|g| + ε)
    ///   (AdamW after p·(1 − lr·wd)): ±lr with g's sign wherever g is clear of zero, and never more.
    /// The optimizer's nodes depend on the opset and not on the model, so the optimizers take turns
    /// across models and opsets: every opset meets every optimizer, and so does every model.
    /// </summary>
    [TestCaseSource(nameof(LowOpsetCases))]
    public void Training_graphs_at_old_opsets_match_autograd(string file, string kind)
    {
        var entry = Manifest.Value[file];
        var expected = Fixtures.ReadNpz(Path.Combine(Folder, entry.Fixtures[kind]));
        var batch = Fixtures.ReadNpz(Path.Combine(Folder, "inputs.npz"));
        var model = ModelFile.Load(Path.Combine(Folder, file));
        var info = ClassifierInfo.Analyze(model, file);
        Assert.That(ModelInspector.CheckTrainability(model, info).Blockers, Is.Empty, "inspect says trainable");
        var shapes = ShapeProbe.Run(model, info);
        var x = batch["x"].Values.Select(v => (float)v).ToArray();
        var y = batch["y"].Values.Select(v => (long)v).ToArray();
        var statistics = kind == "train";
        var bn = statistics ? BatchNormMode.Train : BatchNormMode.Frozen;
        var loss = expected["loss"].Values[0];
        var largest = entry.Names.Values.Max(n => expected[n.Torch].Values.Max(Math.Abs));
        double[] Reference(string name) => entry.Names[name] is (var torch, true)
            ? Transpose(expected[torch].Values, expected[torch].Shape)
            : expected[entry.Names[name].Torch].Values;
        float[] Weight(string name) => model.Graph[name].Initializer!.ToFloatArray();

        var gradients = GradientComputer.Compute(model, shapes, x, y, bn, withRespectToInput: false, Device.Cpu(1));
        Assert.That(gradients.Loss, Is.EqualTo(loss).Within(1e-5 * Math.Max(1, loss)), "loss");
        Assert.That(gradients.Gradients.Keys, Is.EquivalentTo(entry.Names.Keys), "the trained tensors are exactly PyTorch's parameters");
        foreach (var name in entry.Names.Keys)
            AssertClose(name, gradients.Gradients[name].Values, Reference(name), VanishingFloor * largest);
        foreach (var (name, torch) in entry.Running.Where(_ => statistics))
            AssertClose($"running {name}", gradients.RunningStatistics[name].Values, expected["running:" + torch].Values, 0);

        Dictionary<string, float[]> Step(OptimizerSettings optimizer, BatchNormMode mode, float lr, Objective objective)
        {
            var graph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions { Optimizer = optimizer, BatchNorm = mode, Objective = objective });
            var noise = objective is Objective.NoiseMaximization;
            using var trainer = new Trainer(graph, Device.Cpu(1), noise ? new Dictionary<string, float[]> { [info.Input.Name] = x } : null);
            var before = trainer.Step(x, y, y.Length, [.. info.Input.SampleDims.Select(d => (long)d)], lr, "check");
            if (!noise) Assert.That(before, Is.EqualTo(loss).Within(1e-5 * Math.Max(1, loss)), $"{optimizer.Kind}: loss");
            return graph.State.ToDictionary(s => s.Name, s => trainer.Read(s.Name));
        }

        var inputReference = expected["input_grad:input"].Values;
        var noiseRate = (float)(10 * x.Max(Math.Abs) / inputReference.Max(Math.Abs));
        var noise = Step(new OptimizerSettings { Kind = OptimizerKind.Sgd }, bn, noiseRate, new Objective.NoiseMaximization(0, y.Length))[info.Input.Name];
        AssertClose("input (noise step)", [.. x.Select((v, i) => (float)(((double)noise[i] - v) / noiseRate))], inputReference, 0);

        var classification = new Objective.Classification(new LossOptions());
        var stepMode = statistics ? BatchNormMode.Batch : BatchNormMode.Frozen;
        var models = Manifest.Value.Values.Select(e => e.Model).Distinct().ToList();
        var optimizerKind = (OptimizerKind)((models.IndexOf(entry.Model) + entry.Opset) % 3);
        if (optimizerKind == OptimizerKind.Sgd)
        {
            const float rate = 1000;
            var stepped = Step(new OptimizerSettings { Kind = OptimizerKind.Sgd, Momentum = 0.9f }, stepMode, rate, classification);
            foreach (var name in entry.Names.Keys)
                AssertClose($"{name} (SGD step)", [.. Weight(name).Select((v, i) => (float)(((double)v - stepped[name][i]) / rate))], Reference(name), VanishingFloor * largest);
            return;
        }
        const float adamRate = 0.01f, decay = 0.1f;
        var (optimizer, shrink) = optimizerKind == OptimizerKind.Adam
            ? (new OptimizerSettings { Kind = OptimizerKind.Adam, ClipValue = 10 }, 1.0)
            : (new OptimizerSettings { Kind = OptimizerKind.AdamW, WeightDecay = decay, ClipNorm = 1e4f }, 1 - (double)adamRate * decay);
        var state = Step(optimizer, stepMode, adamRate, classification);
        foreach (var name in entry.Names.Keys)
        {
            var (p, g) = (Weight(name), Reference(name));
            var clear = Math.Max(1e-3 * g.Max(Math.Abs), VanishingFloor * largest);
            for (var i = 0; i < p.Length; i++)
            {
                var moved = (p[i] * shrink - state[name][i]) / adamRate;
                if (Math.Abs(g[i]) > clear)
                    Assert.That(moved, Is.EqualTo(Math.Sign(g[i])).Within(2e-3), $"{optimizerKind}: {name}[{i}] moved {moved:G4}·lr, gradient {g[i]:G4}");
                else
                    Assert.That(Math.Abs(moved), Is.LessThanOrEqualTo(1 + 2e-3), $"{optimizerKind}: {name}[{i}] moved {moved:G4}·lr");
            }
        }
    }

    [Test]
    public void Gradients_of_a_fixed_batch_export_need_its_batch_size()
    {
        var model = ModelFile.Load(Path.Combine(Folder, "resnet18_eval_op17_fixed.onnx"));
        var info = ClassifierInfo.Analyze(model, "fixed");
        var shapes = ShapeProbe.Run(model, info);
        Assert.That(shapes[info.Logits.Name].Dims, Is.EqualTo(new long[] { 4, 10 }));
        Assert.That(() => GradientComputer.Compute(model, shapes, new float[3 * 3072], [0, 1, 2], BatchNormMode.Frozen, withRespectToInput: true, Device.Cpu(1)),
            Throws.TypeOf<UserInputException>().With.Message.EndsWith("has a fixed batch size of 4; gradients of 3 samples need 4"));
    }

    /// <summary>forget on every file but the fixed-batch ones at opset 13: their exports differ from
    /// opsets 11 and 17 in no way the batch rewrite sees (same Reshape/Expand constants), so they only
    /// go through <see cref="DynamicBatchPass"/> (<see cref="Fixed_batch_exports_at_opset_13_get_a_dynamic_batch_axis"/>).
    /// At opsets 7 to 10 <see cref="Training_graphs_at_old_opsets_match_autograd"/> runs the graphs forget
    /// builds; forget itself runs at opsets 7 and 9 (no scatter, no Where and IR version 3 at 7; Scatter and
    /// attribute-form Slice at 9) on the ResNet with BatchNorm kept (MaxPool and BatchNormalization, the
    /// ops whose gradient forms change most below opset 11) and on the ViT (exported from opset 9).</summary>
    public static IEnumerable<TestCaseData> ForgetCases() =>
        Manifest.Value.Values
            .Where(e => e.Opset >= 11 ? e.Batch == "dynamic" || e.Opset != 13 : e.Opset is 7 or 9 && e.Mode == "preserve" && e.Model is "resnet18" or "vit")
            .Select(e => new TestCaseData(e.File).SetArgDisplayNames(e.File));

    public static IEnumerable<TestCaseData> FixedOpset13Cases() =>
        Manifest.Value.Values.Where(e => e.Batch != "dynamic" && e.Opset == 13).Select(e => new TestCaseData(e.File).SetArgDisplayNames(e.File));

    [TestCaseSource(nameof(FixedOpset13Cases))]
    public void Fixed_batch_exports_at_opset_13_get_a_dynamic_batch_axis(string file)
    {
        var model = ModelFile.Load(Path.Combine(Folder, file));
        var trainable = DynamicBatchPass.Run(model, ClassifierInfo.Analyze(model, file));
        Assert.That(trainable.Info.FixedBatch, Is.Null);
        Assert.That(trainable.Shapes[trainable.Info.Logits.Name].Dims, Is.EqualTo(new long[] { -1, 10 }));
    }

    [TestCaseSource(nameof(ForgetCases))]
    public void Forget_runs_and_the_export_keeps_the_interface(string file)
    {
        var path = Path.Combine(Folder, file);
        var model = ModelFile.Load(path);
        var info = ClassifierInfo.Analyze(model, file);
        var trainable = DynamicBatchPass.Run(model, info);
        using var data = RandomImages(perClass: 4, seed: 3);
        var settings = new UnsirSettings
        {
            NoiseBatch = 8, MinNoisePerClass = 8, NoiseSteps = 2, NoiseCopies = 1, RetainPerClass = 2, BatchSize = 16,
            MaxRounds = 1, ForgetCheckPerClass = 4, Seed = 1,
        };
        Assert.That(trainable.Info.FixedBatch, Is.Null, "training runs on a dynamic batch axis");
        var result = UnsirUnlearner.Run(trainable.Model, trainable.Info, trainable.Shapes, data, [3], settings, Device.Cpu(1));
        Assert.That(result.Losses["impair"].Concat(result.Losses["repair"]), Has.All.Matches<float>(float.IsFinite));

        var original = ModelFile.LoadProto(path);
        var exported = ModelExporter.ForExport(original, result.Initializers);
        var written = Path.Combine(Path.GetTempPath(), $"matrix-{Guid.NewGuid():N}.onnx");
        try
        {
            ModelExporter.Write(exported, path, written);
            var reloaded = ModelFile.LoadProto(written);
            AssertSameGraphApartFromWeights(original, reloaded);
            var changed = reloaded.Graph.Initializer.Count(t => !t.RawData.Equals(original.Graph.Initializer.Single(o => o.Name == t.Name).RawData));
            Assert.That(changed, Is.GreaterThan(0), "forget changed no weight");

            using var before = new InferenceSession(path);
            using var after = new InferenceSession(written);
            AssertSameMetadata(before.InputMetadata, after.InputMetadata);
            AssertSameMetadata(before.OutputMetadata, after.OutputMetadata);
            var batch = before.InputMetadata[info.Input.Name].Dimensions[0] is > 0 and var b ? b : 5;
            var samples = new float[batch * info.Input.SampleSize];
            data.ReadSamples(Enumerable.Range(0, batch).ToArray(), samples);
            using var feed = OrtValue.CreateTensorValueFromMemory(samples, [batch, .. info.Input.SampleDims.Select(d => (long)d)]);
            using var runOptions = new RunOptions();
            using var output = after.Run(runOptions, [info.Input.Name], [feed], [info.Output.Name]);
            Assert.That(output[0].GetTensorTypeAndShape().Shape, Is.EqualTo(new long[] { batch, 10 }));
            Assert.That(output[0].GetTensorDataAsSpan<float>().ToArray(), Has.All.Matches<float>(float.IsFinite));

            // The exported graph (fixed batch included) predicts what the trained graph did, also for
            // a sample count that is no multiple of a fixed batch (the evaluator pads the last batch).
            var indices = Enumerable.Range(0, 10).ToArray();
            var trained = Model.FromProto(ModelExporter.WithInitializers(trainable.Model.ToProto(), result.Initializers), path);
            using var trainedSession = Evaluator.OpenSession(trained, Device.Cpu(1));
            Assert.That(Evaluator.Predict(after, info, data, 3, indices), Is.EqualTo(Evaluator.Predict(trainedSession, trainable.Info, data, 3, indices)));
        }
        finally
        {
            System.IO.File.Delete(written);
        }
    }

    /// <summary>Same nodes (name, domain, op, inputs, outputs, attributes), graph inputs and outputs,
    /// opsets and initializer names, types and dims: everything but initializer values and metadata.</summary>
    private static void AssertSameGraphApartFromWeights(ModelProto a, ModelProto b)
    {
        Assert.That(b.OpsetImport, Is.EqualTo(a.OpsetImport));
        Assert.That(b.Graph.Input, Is.EqualTo(a.Graph.Input));
        Assert.That(b.Graph.Output, Is.EqualTo(a.Graph.Output));
        Assert.That(b.Graph.ValueInfo, Is.EqualTo(a.Graph.ValueInfo));
        Assert.That(b.Graph.Node.Select(n => n.ToByteString()), Is.EqualTo(a.Graph.Node.Select(n => n.ToByteString())));
        Assert.That(b.Graph.Initializer.Select(t => (t.Name, t.DataType, string.Join(",", t.Dims))),
            Is.EqualTo(a.Graph.Initializer.Select(t => (t.Name, t.DataType, string.Join(",", t.Dims)))));
    }

    private static void AssertSameMetadata(IReadOnlyDictionary<string, NodeMetadata> a, IReadOnlyDictionary<string, NodeMetadata> b)
    {
        Assert.That(b.Keys, Is.EqualTo(a.Keys));
        foreach (var (name, meta) in a)
        {
            Assert.That(b[name].ElementDataType, Is.EqualTo(meta.ElementDataType), name);
            Assert.That(b[name].Dimensions, Is.EqualTo(meta.Dimensions), name);
            Assert.That(b[name].SymbolicDimensions, Is.EqualTo(meta.SymbolicDimensions), name);
        }
    }

    /// <summary>Gaussian images [3, 32, 32] with a class-dependent mean per channel.</summary>
    private static InMemoryDataset RandomImages(int perClass, int seed)
    {
        var random = new Random(seed);
        var count = perClass * 10;
        var samples = new float[count * 3 * 32 * 32];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = i % 10;
            for (var p = 0; p < 3 * 32 * 32; p++)
                samples[i * 3072 + p] = (float)(0.1 * labels[i] * (p / 1024 - 1) + Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }
        return new InMemoryDataset(samples, labels, new InputSpec("input", InputLayout.Nchw, [3, 32, 32]), "random images");
    }

    private static double[] Transpose(double[] values, long[] shape)
    {
        var (rows, cols) = ((int)shape[0], (int)shape[1]);
        var result = new double[values.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                result[c * rows + r] = values[r * cols + c];
        return result;
    }

    /// <summary>max |ours − torch| / max(max |torch|, floor) must stay under the tolerance; returns that error.</summary>
    private static double AssertClose(string name, float[] actual, double[] expected, double floor)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), name);
        var scale = Math.Max(Math.Max(expected.Max(Math.Abs), floor), 1e-12);
        var worst = actual.Select((a, i) => Math.Abs(a - expected[i])).Max() / scale;
        Assert.That(worst, Is.LessThan(GradientTolerance), $"{name}: max |ours − torch| / max |torch| = {worst:G3}");
        return worst;
    }
}
