#:package Microsoft.ML.OnnxRuntime@1.31.1
// Where a training step spends its time: runs the training graph written by `onnx-unlearn artifacts`
// with ONNX Runtime's profiler and prints the kernel time per op type and the slowest nodes.
//
//   bin/onnx-unlearn artifacts --model models/fmnist_cnn_bn.onnx --out /tmp/art
//   dotnet run --file tools/profile_step.cs -- /tmp/art [--batch 256] [--steps 10] [--threads 2] [--top 30]
//
// The state comes from init.onnx; the batch is random (inputs uniform in [-1, 1), labels uniform over
// 10 classes), the learning rate 1e-3, the step 1 (the state is fed again each run, so every step is
// the first: the timing is the same). Three warm-up steps are left out of the profile.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

var folder = args.Length > 0 && !args[0].StartsWith("--") ? args[0] : throw new ArgumentException("usage: profile_step.cs ARTIFACTS_FOLDER [--batch N] [--steps N] [--threads N] [--top N]");
int Flag(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1]) : fallback;
int batch = Flag("--batch", 256), steps = Flag("--steps", 10), threads = Flag("--threads", 2), top = Flag("--top", 30);

using var init = new InferenceSession(Path.Combine(folder, "init.onnx"));
using var initial = init.Run([]);
var state = initial.ToDictionary(v => v.Name, v => v.AsTensor<float>().ToArray());

using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, EnableProfiling = true, ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "onnx-unlearn-step") };
using var session = new InferenceSession(Path.Combine(folder, "training.onnx"), options);
var random = new Random(0);
var inputs = new List<NamedOnnxValue>();
foreach (var (name, meta) in session.InputMetadata)
{
    var dims = meta.Dimensions.Select(d => d < 0 ? batch : d).ToArray();
    var count = dims.Aggregate(1, (a, b) => a * b);
    inputs.Add(state.TryGetValue(name, out var value) ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(value, dims))
        : meta.ElementType == typeof(long) ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(Enumerable.Range(0, count).Select(_ => (long)random.Next(10)).ToArray(), dims))
        : name == "learning_rate" ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(new[] { 1e-3f }, dims))
        : name == "step" ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(new[] { 1f }, dims))
        : NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), dims)));
}
for (var i = 0; i < 3; i++) session.Run(inputs).Dispose();
var watch = Stopwatch.StartNew();
for (var i = 0; i < steps; i++) session.Run(inputs).Dispose();
var stepMs = watch.Elapsed.TotalMilliseconds / steps;
var profile = session.EndProfiling();

var byOp = new Dictionary<string, double>();
var byNode = new Dictionary<string, (string Op, double Us)>();
var runs = 0;
using (var document = JsonDocument.Parse(File.ReadAllText(profile)))
{
    foreach (var e in document.RootElement.EnumerateArray())
    {
        var name = e.GetProperty("name").GetString()!;
        var category = e.GetProperty("cat").GetString();
        if (category == "Session" && name == "model_run") runs++;
        if (category != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
        var op = e.GetProperty("args").GetProperty("op_name").GetString()!;
        var us = e.GetProperty("dur").GetDouble();
        byOp[op] = byOp.GetValueOrDefault(op) + us;
        byNode[name[..^"_kernel_time".Length]] = (op, byNode.GetValueOrDefault(name[..^"_kernel_time".Length]).Us + us);
    }
}
File.Delete(profile);
runs = Math.Max(runs, 1);
var kernelMs = byOp.Values.Sum() / runs / 1000;
Console.WriteLine($"step {stepMs:F1} ms ({batch * 1000 / stepMs:F0} samples/s), batch {batch}, {threads} threads; kernel time {kernelMs:F1} ms per run over {runs} runs");
foreach (var (op, us) in byOp.OrderByDescending(p => p.Value))
    Console.WriteLine($"  {op,-28} {us / runs / 1000,9:F2} ms {100 * us / runs / 1000 / kernelMs,6:F1} %");
Console.WriteLine($"slowest {top} nodes:");
foreach (var (node, (op, us)) in byNode.OrderByDescending(p => p.Value.Us).Take(top))
    Console.WriteLine($"  {node,-64} {op,-20} {us / runs / 1000,9:F2} ms");
