using OnnxUnlearn.Analysis;
using OnnxUnlearn.Ir;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Training;
using OnnxUnlearn.Training.Losses;
using OnnxUnlearn.Training.Optimizers;

using OnnxUnlearn.Tests.Ir;

namespace OnnxUnlearn.Tests.Training;

[TestFixture]
public class TrainingGraphTests
{
    /// <summary>
    /// End to end through loss, BatchNormalization in batch-statistics mode and every rule of the
    /// model: with plain SGD at lr = 1 one step gives p − g, so g = p − p'. Compare g with central
    /// differences of the loss (the step's loss output, taken at lr = 0).
    /// </summary>
    [TestCase(BatchNormMode.Train, 13, 0f, false)]
    [TestCase(BatchNormMode.Frozen, 13, 0f, false)]
    [TestCase(BatchNormMode.Train, 17, 0f, false)]
    [TestCase(BatchNormMode.Train, 13, 0.2f, false)]
    [TestCase(BatchNormMode.Frozen, 17, 0f, true)]
    [TestCase(BatchNormMode.Train, 7, 0.2f, true)]
    [TestCase(BatchNormMode.Frozen, 8, 0.1f, false)]
    public void Parameter_gradients_match_central_differences_of_the_loss(BatchNormMode bn, int opset, float labelSmoothing, bool classWeights)
    {
        var model = TestModels.TwoConvCnn(opset: opset);
        var info = ClassifierInfo.Analyze(model, "small");
        var shapes = ShapeProbe.Run(model, info);
        var graph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions
        {
            Objective = new Objective.Classification(new LossOptions(labelSmoothing, classWeights ? [0.5f, 2f, 1f] : null)),
            Optimizer = new OptimizerSettings { Kind = OptimizerKind.Sgd },
            BatchNorm = bn,
        });
        var (x, y) = TestModels.RandomBatch(6, 3, seed: 5);
        long[] sampleDims = [1, 8, 8];
        var parameters = graph.Parameters.ToList();
        Assert.That(parameters.Select(p => p.Name), Is.EquivalentTo(new[] { "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias" }));

        float Loss(string name, int index, float delta)
        {
            var initial = parameters.ToDictionary(p => p.Name, p => (float[])p.InitialValue.Clone());
            initial[name][index] += delta;
            using var t = new Trainer(graph, Device.Cpu(1), initial);
            return t.Step(x, y, 6, sampleDims, 0f, "check");
        }

        using var trainer = new Trainer(graph, Device.Cpu(1));
        trainer.Step(x, y, 6, sampleDims, 1f, "check");
        var random = new Random(3);
        foreach (var p in parameters)
        {
            var updated = trainer.Read(p.Name);
            for (var k = 0; k < 3; k++)
            {
                var i = random.Next(p.InitialValue.Length);
                var analytic = p.InitialValue[i] - updated[i];
                const float h = 1e-3f;
                var numeric = (Loss(p.Name, i, h) - Loss(p.Name, i, -h)) / (2 * h);
                Assert.That(analytic, Is.EqualTo(numeric).Within(2e-3 + 2e-2 * Math.Abs(numeric)), $"{p.Name}[{i}]");
            }
        }
    }

    /// <summary>
    /// The loss is PyTorch's cross-entropy of the logits: −mean log softmax(z)_y, with label
    /// smoothing (1 − ε)·CE + ε·mean_k(−log softmax(z)_k), and with class weights Σ w_y·ℓ / Σ w_y;
    /// for a Keras-style model ending in Softmax it is taken from the Softmax input.
    /// </summary>
    [TestCase(false, 0f, false)]
    [TestCase(true, 0f, false)]
    [TestCase(false, 0.1f, false)]
    [TestCase(true, 0f, true)]
    public void Loss_is_cross_entropy_of_the_logits(bool softmaxHead, float smoothing, bool weighted)
    {
        float[] weights = [0.5f, 2f, 1f];
        var model = TestModels.Mlp(softmax: softmaxHead, seed: 4);
        var logitsModel = TestModels.Mlp(softmax: false, seed: 4);
        var info = ClassifierInfo.Analyze(model, "mlp");
        var graph = TrainingGraphBuilder.BuildGradients(model, ShapeProbe.Run(model, info), BatchNormMode.Frozen, withRespectToInput: false,
            new LossOptions(smoothing, weighted ? weights : null));
        var random = new Random(9);
        var x = Enumerable.Range(0, 5 * 4).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
        long[] y = [0, 1, 2, 1, 0];
        using var session = SessionFactory.Create(graph.Proto, Device.Cpu(1));
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [5, 4]);
        using var labels = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(y, [5]);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var result = session.Run(runOptions, [graph.InputName, graph.LabelsName], [input, labels], [TrainingGraph.LossName]);
        var loss = result[0].GetTensorDataAsSpan<float>()[0];

        using var plain = SessionFactory.Create(logitsModel.ToProto(), Device.Cpu(1));
        using var logits = plain.Run(runOptions, ["input"], [input], ["logits"]);
        var z = logits[0].GetTensorDataAsSpan<float>().ToArray();
        double total = 0, weightSum = 0;
        for (var n = 0; n < 5; n++)
        {
            var row = z.Skip(n * 3).Take(3).Select(v => (double)v).ToArray();
            var logSum = Math.Log(row.Sum(Math.Exp));
            var nll = logSum - row[y[n]];
            var uniform = row.Average(v => logSum - v);
            var w = weighted ? weights[y[n]] : 1;
            total += w * ((1 - smoothing) * nll + smoothing * uniform);
            weightSum += w;
        }
        Assert.That(loss, Is.EqualTo(total / weightSum).Within(1e-5));
    }

    [Test]
    public void Train_mode_updates_running_statistics_with_momentum_and_unbiased_variance()
    {
        var model = TestModels.TwoConvCnn();
        var info = ClassifierInfo.Analyze(model, "small");
        var shapes = ShapeProbe.Run(model, info);
        var graph = TrainingGraphBuilder.Build(model, shapes, new TrainingGraphOptions { BatchNorm = BatchNormMode.Train });
        Assert.That(graph.State.Where(s => s.Kind == StateKind.RunningStatistic).Select(s => s.Initializer),
            Is.EquivalentTo(new[] { "bn1.running_mean", "bn1.running_var" }));

        // The batch statistics of conv1's output, computed here from the model's own conv1 output.
        var (x, y) = TestModels.RandomBatch(4, 3, seed: 2);
        var conv1 = RunPrefix(model, x, 4, "conv1");
        const int m = 4 * 8 * 8;
        using var trainer = new Trainer(graph, Device.Cpu(1));
        trainer.Step(x, y, 4, [1, 8, 8], 0f, "check");
        var runningMean = trainer.Read("bn1.running_mean");
        var runningVar = trainer.Read("bn1.running_var");
        float[] oldMean = [0.05f, -0.02f, 0.01f, 0f];
        float[] oldVar = [0.3f, 0.4f, 0.5f, 0.6f];
        for (var c = 0; c < 4; c++)
        {
            var values = Enumerable.Range(0, 4).SelectMany(n => conv1.Skip((n * 4 + c) * 64).Take(64)).Select(v => (double)v).ToArray();
            var mean = values.Average();
            var unbiased = values.Sum(v => (v - mean) * (v - mean)) / (m - 1);
            Assert.That(runningMean[c], Is.EqualTo(0.9 * oldMean[c] + 0.1 * mean).Within(1e-5));
            Assert.That(runningVar[c], Is.EqualTo(0.9 * oldVar[c] + 0.1 * unbiased).Within(1e-5));
        }
    }

    /// <summary>
    /// The parameters share one flat update (a bucket): two SGD steps with momentum, weight decay and
    /// global-norm clipping give, for every parameter, what the per-parameter formulas give with the
    /// gradients of <see cref="GradientComputer"/>; so the concatenation and the split keep each
    /// parameter's values in place, and the clipping norm spans all of them.
    /// </summary>
    [Test]
    public void Flat_update_of_a_bucket_matches_the_per_parameter_formulas()
    {
        var model = TestModels.TwoConvCnn();
        var info = ClassifierInfo.Analyze(model, "small");
        var shapes = ShapeProbe.Run(model, info);
        const float lr = 0.05f, momentum = 0.9f, decay = 0.01f, maxNorm = 0.1f;
        var options = new TrainingGraphOptions
        {
            BatchNorm = BatchNormMode.Frozen,
            Optimizer = new OptimizerSettings { Kind = OptimizerKind.Sgd, Momentum = momentum, WeightDecay = decay, ClipNorm = maxNorm },
        };
        var graph = TrainingGraphBuilder.Build(model, shapes, options);
        var parameters = graph.State.Where(s => s.Kind == StateKind.Parameter).Select(s => s.Initializer!).ToList();
        Assert.That(parameters, Has.Count.GreaterThan(2));
        Assert.That(graph.State.Where(s => s.Kind == StateKind.OptimizerState).Select(s => s.Name), Is.EqualTo(new[] { "optimizer.bucket0.momentum" }));

        var current = parameters.ToDictionary(p => p, p => model.Graph[p].Initializer!.ToFloatArray());
        var buffers = parameters.ToDictionary(p => p, p => new float[current[p].Length]);
        using var trainer = new Trainer(graph, Device.Cpu(1));
        for (var step = 0; step < 2; step++)
        {
            var (x, y) = TestModels.RandomBatch(4, 3, seed: 10 + step);
            var g = GradientComputer.Compute(WithWeights(model, current), shapes, x, y, BatchNormMode.Frozen, withRespectToInput: false, Device.Cpu(1)).Gradients;
            // clip_grad_norm_: factor = min(1, max_norm / (‖g‖ + 1e-6)) over all parameters, then g + wd·p
            var norm = Math.Sqrt(parameters.Sum(p => g[p].Values.Sum(v => (double)v * v)));
            var factor = Math.Min(1, maxNorm / (norm + 1e-6));
            Assert.That(factor, Is.LessThan(1), "the clipping is active");
            foreach (var p in parameters)
                for (var i = 0; i < current[p].Length; i++)
                {
                    var gi = g[p].Values[i] * factor + decay * current[p][i];
                    buffers[p][i] = (float)(momentum * buffers[p][i] + gi);
                    current[p][i] -= lr * buffers[p][i];
                }
            trainer.Step(x, y, 4, [1, 8, 8], lr, "check");
        }
        foreach (var p in parameters)
            Assert.That(trainer.Read(p), Is.EqualTo(current[p]).Within(1e-5), p);
    }

    [Test]
    public void Parameters_are_bucketed_in_order_with_large_ones_alone()
    {
        var values = new[] { 10L, TrainingGraphBuilder.BucketValues - 20, 20, TrainingGraphBuilder.BucketValues + 1, 3 };
        var parameters = values.Select((n, i) => new Value($"p{i}")).ToList();
        var size = parameters.Zip(values).ToDictionary(p => p.First, p => p.Second);
        var buckets = TrainingGraphBuilder.Buckets(parameters, v => size[v]);
        Assert.That(buckets.Select(b => string.Join(",", b.Select(v => v.Name))), Is.EqualTo(new[] { "p0,p1", "p3", "p2,p4" }));
    }

    private static Model WithWeights(Model model, Dictionary<string, float[]> weights)
    {
        var proto = model.ToProto();
        foreach (var t in proto.Graph.Initializer.Where(t => weights.ContainsKey(t.Name)))
            ModelExporter.SetValues(t, weights[t.Name]);
        return Model.FromProto(proto, model.Path);
    }

    /// <summary>Runs the model and returns the output of the first node named <paramref name="nodePrefix"/>*.</summary>
    private static float[] RunPrefix(Model model, float[] x, int n, string nodePrefix)
    {
        var proto = model.ToProto();
        var node = proto.Graph.Node.First(nd => nd.OpType == "Conv");
        proto.Graph.Output.Clear();
        proto.Graph.Output.Add(new Onnx.ValueInfoProto { Name = node.Output[0] });
        using var session = SessionFactory.Create(proto, Device.Cpu(1));
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [n, 1, 8, 8]);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var result = session.Run(runOptions, ["input"], [input], [node.Output[0]]);
        return result[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
