// Data pipeline benchmark: images/s, peak memory, and how long a training loop waits on data.
//
//   dotnet build tools/DataBench -c Release
//   dotnet tools/DataBench/bin/Release/net10.0/DataBench.dll --data /tmp/fmnist_folder [options]
//
// Opens --data with DatasetLoader for the sample CNN's input ([1,28,28] NCHW, preprocessing
// fmnist) and reads --passes full passes (0 allowed with a step) with a BatchReader (shuffled
// order, --batch, --prefetch) whose consumer only returns each batch: the pipeline's throughput.
// Then one pass whose consumer runs a training step per batch, simulated (--step-ms N,
// --step-mode sleep|spin) or real (--train MODEL: Trainer.Step of e.g. models/fmnist_cnn_bn.onnx),
// for at most --steps batches, and reports how long the consumer waited for its batches; the wait
// after the first batch (which only fills the pipeline) is the time the step waited on data.
// Memory: the peak working set after the data passes (before any training session exists), the
// peak managed heap, and the live managed heap after a full GC at the end of each pass, which must
// not grow from pass to pass. --limit N reads only the first N samples of the shuffled order (to
// compare peak memory across data set sizes). The last line, "RESULT key=value ...", is for scripts.
using System.Diagnostics;
using System.Globalization;
using OnnxUnlearn;
using OnnxUnlearn.Analysis;
using OnnxUnlearn.Data;
using OnnxUnlearn.Runtime;
using OnnxUnlearn.Serialization;
using OnnxUnlearn.Training;

var options = Options.Parse(args);
if (options is null)
    return 2;

try
{
    return Bench.Run(options);
}
catch (UserInputException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

internal sealed record Options
{
    public required string Data { get; init; }
    public string Preprocess { get; init; } = "fmnist";
    public int Batch { get; init; } = 256;
    public int Prefetch { get; init; } = 2;
    public int Passes { get; init; } = 2;
    public double StepMs { get; init; }
    public string StepMode { get; init; } = "sleep";
    public string? Train { get; init; }
    public int Steps { get; init; } = int.MaxValue;
    public int Threads { get; init; }
    public int Seed { get; init; }
    public int Limit { get; init; } = int.MaxValue;

    private const string Usage = """
        usage: DataBench --data PATH [--preprocess fmnist] [--batch 256] [--prefetch 2] [--passes 2]
                         [--step-ms N [--step-mode sleep|spin] | --train MODEL.onnx [--threads T]] [--steps K] [--seed S] [--limit N]
        """;

    public static Options? Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"unexpected argument '{args[i]}'\n{Usage}");
                return null;
            }
            values[args[i][2..]] = args[++i];
        }
        string? Get(string key) => values.Remove(key, out var v) ? v : null;
        int Int(string key, int fallback) => Get(key) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        if (Get("data") is not { } data)
        {
            Console.Error.WriteLine(Usage);
            return null;
        }
        var result = new Options
        {
            Data = data,
            Preprocess = Get("preprocess") ?? "fmnist",
            Batch = Int("batch", 256),
            Prefetch = Int("prefetch", 2),
            Passes = Int("passes", 2),
            StepMs = Get("step-ms") is { } ms ? double.Parse(ms, CultureInfo.InvariantCulture) : 0,
            StepMode = Get("step-mode") ?? "sleep",
            Train = Get("train"),
            Steps = Int("steps", int.MaxValue),
            Threads = Int("threads", 0),
            Seed = Int("seed", 0),
            Limit = Int("limit", int.MaxValue),
        };
        if (values.Count > 0 || result.StepMode is not ("sleep" or "spin") || result.Passes < 0 || (result.Passes == 0 && result.StepMs <= 0 && result.Train is null))
        {
            Console.Error.WriteLine($"unknown option or value: {string.Join(", ", values.Keys.Select(k => "--" + k))}{(result.StepMode is "sleep" or "spin" ? "" : " --step-mode")}\n{Usage}");
            return null;
        }
        return result;
    }
}

internal static class Bench
{
    private static readonly InputSpec CnnInput = new("input", InputLayout.Nchw, [1, 28, 28]);

    public static int Run(Options o)
    {
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var model = o.Train is null ? null : ModelFile.Load(o.Train);
        var info = model is null ? null : ClassifierInfo.Analyze(model, o.Train!);
        var target = info?.Input ?? CnnInput;

        using var data = DatasetLoader.Open(new DataOptions { Path = o.Data, Preprocessing = Preprocessing.FromPreset(o.Preprocess) }, target);
        var openSeconds = clock.Elapsed.TotalSeconds;
        var order = Sampling.Shuffle(Enumerable.Range(0, data.Count).ToArray(), o.Seed)[..Math.Min(o.Limit, data.Count)];
        var decodedMiB = (double)order.Length * target.SampleSize * sizeof(float) / (1 << 20);
        process.Refresh();
        var openWorkingSetMiB = process.WorkingSet64 / 1048576.0;
        Console.WriteLine($"{o.Data}: {order.Length} of {data.Count} samples → {target}, opened in {openSeconds:F2} s, working set then {openWorkingSetMiB:F1} MiB; " +
            $"all samples decoded would take {decodedMiB:F1} MiB; {Environment.ProcessorCount} cores, batch {o.Batch}, prefetch {o.Prefetch}");
        Console.WriteLine($"{"pass",-6} {"consumer",-22} {"batches",7} {"seconds",8} {"images/s",9} {"wait s",7} {"wait %",7} {"peak WS MiB",11} {"GC heap MiB",11} {"live MiB",8}");

        var results = new List<PassResult>();
        for (var pass = 1; pass <= o.Passes; pass++)
            results.Add(RunPass(data, order, o, process, $"{pass}", "none", int.MaxValue, _ => { }));
        process.Refresh();
        var dataPeakWorkingSetMiB = process.PeakWorkingSet64 / 1048576.0;
        PassResult? stepped = null;
        long[] sampleDims = [.. target.SampleDims.Select(d => (long)d)];
        if (model is not null)
        {
            // Built after the data passes, so that their peak working set leaves out the training session.
            using var trainer = new Trainer(TrainingGraphBuilder.Build(model, ShapeProbe.Run(model, info!), new TrainingGraphOptions()), Device.Cpu(o.Threads));
            stepped = RunPass(data, order, o, process, "train", $"train {Path.GetFileName(o.Train)}", o.Steps,
                batch => trainer.Step(batch.Samples, batch.Labels, batch.Count, sampleDims, 1e-3f, "training"));
        }
        else if (o.StepMs > 0)
        {
            var step = TimeSpan.FromMilliseconds(o.StepMs);
            stepped = RunPass(data, order, o, process, "step", $"{o.StepMode} {o.StepMs:G} ms", o.Steps,
                o.StepMode == "sleep" ? _ => Thread.Sleep(step) : _ => Spin(step));
        }

        process.Refresh();
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"RESULT data={o.Data} samples={order.Length} open_s={openSeconds:F2} open_ws_mib={openWorkingSetMiB:F1} decoded_mib={decodedMiB:F1} " +
            $"peak_ws_mib={process.PeakWorkingSet64 / 1048576.0:F1} peak_gc_heap_mib={results.Append(stepped).OfType<PassResult>().Max(r => r.PeakGcHeapMiB):F1} " +
            $"gc_alloc_mib={GC.GetTotalAllocatedBytes() / 1048576.0:F0} gen2={GC.CollectionCount(2)}");
        if (results.Count > 0)
        {
            // Warm: the best pass after the first (file cache and JIT warm).
            var warm = results.Count > 1 ? results.Skip(1).MaxBy(r => r.ImagesPerSecond)! : results[0];
            summary += string.Create(CultureInfo.InvariantCulture,
                $" passes={results.Count} cold_img_s={results[0].ImagesPerSecond:F0} warm_img_s={warm.ImagesPerSecond:F0} data_peak_ws_mib={dataPeakWorkingSetMiB:F1} " +
                $"live_first_mib={results[0].LiveMiB:F1} live_last_mib={results[^1].LiveMiB:F1}");
        }
        if (stepped is { } s)
        {
            summary += string.Create(CultureInfo.InvariantCulture,
                $" step={s.Consumer.Replace(' ', '_')} step_batches={s.Batches} step_ms_mean={s.StepSeconds / s.Batches * 1000:F0} first_wait_ms={s.FirstWaitSeconds * 1000:F0} " +
                $"wait_s={s.WaitSeconds - s.FirstWaitSeconds:F3} total_s={s.Seconds:F2} wait_pct={100 * (s.WaitSeconds - s.FirstWaitSeconds) / s.Seconds:F2} " +
                $"max_wait_ms={s.MaxWaitAfterFirstSeconds * 1000:F1}");
        }
        Console.WriteLine(summary);
        return 0;
    }

    private static PassResult RunPass(ILabeledDataset data, int[] order, Options o, Process process, string name, string consumer, int maxBatches, Action<Batch> step)
    {
        using var reader = new BatchReader(data, order, o.Batch, o.Prefetch);
        double wait = 0, firstWait = 0, maxWait = 0, stepTime = 0;
        long peakGc = 0;
        var batches = 0;
        var images = 0;
        var total = Stopwatch.StartNew();
        using (var batchesOf = reader.ReadAll().GetEnumerator())
        {
            while (batches < maxBatches)
            {
                var waitStart = total.Elapsed.TotalSeconds;
                if (!batchesOf.MoveNext())
                    break;
                var waited = total.Elapsed.TotalSeconds - waitStart;
                wait += waited;
                if (batches == 0)
                    firstWait = waited;
                else
                    maxWait = Math.Max(maxWait, waited);
                var batch = batchesOf.Current;
                var stepStart = total.Elapsed.TotalSeconds;
                step(batch);
                stepTime += total.Elapsed.TotalSeconds - stepStart;
                images += batch.Count;
                batches++;
                reader.Return(batch);
                peakGc = Math.Max(peakGc, GC.GetTotalMemory(false));
            }
        }
        var seconds = total.Elapsed.TotalSeconds;
        var liveMiB = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0; // after the timing: what the pass left behind
        process.Refresh();
        var result = new PassResult(consumer, batches, images, seconds, wait, firstWait, maxWait, stepTime, peakGc / 1048576.0, liveMiB);
        var waitText = batches > 1 ? (wait - firstWait).ToString("F2", CultureInfo.InvariantCulture) : "-";
        var waitPct = batches > 1 ? (100 * (wait - firstWait) / seconds).ToString("F1", CultureInfo.InvariantCulture) : "-";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-6} {consumer,-22} {batches,7} {seconds,8:F2} {result.ImagesPerSecond,9:F0} {waitText,7} {waitPct,7} {process.PeakWorkingSet64 / 1048576.0,11:F1} {peakGc / 1048576.0,11:F1} {liveMiB,8:F1}"));
        return result;
    }

    private static void Spin(TimeSpan duration)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
            Thread.SpinWait(64);
    }
}

/// <summary>One pass. Wait times: the consumer blocked in MoveNext; the first batch's wait is the pipeline filling up.</summary>
internal sealed record PassResult(string Consumer, int Batches, int Images, double Seconds, double WaitSeconds, double FirstWaitSeconds,
    double MaxWaitAfterFirstSeconds, double StepSeconds, double PeakGcHeapMiB, double LiveMiB)
{
    public double ImagesPerSecond => Images / Seconds;
}
