// ONNX Runtime side of tools/bench_conv.sh: the best of 15 runs of each model given on the command
// line (random inputs, after one warm-up run), in ms, as one JSON object {file: ms}.
//   dotnet run --file tools/bench_conv.cs -c Release -- THREADS MODEL.onnx...
#:package Microsoft.ML.OnnxRuntime@1.31.0
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

using var options = new SessionOptions { IntraOpNumThreads = int.Parse(args[0]), InterOpNumThreads = 1 };
var random = new Random(0);
var result = new Dictionary<string, double>();
foreach (var path in args[1..])
{
    using var session = new InferenceSession(path, options);
    var inputs = session.InputMetadata.Select(m =>
    {
        var tensor = new DenseTensor<float>(m.Value.Dimensions);
        for (var i = 0; i < tensor.Length; i++) tensor.SetValue(i, (float)random.NextDouble() - 0.5f);
        return NamedOnnxValue.CreateFromTensor(m.Key, tensor);
    }).ToList();
    session.Run(inputs).Dispose();
    var best = double.MaxValue;
    for (var r = 0; r < 15; r++)
    {
        var clock = Stopwatch.StartNew();
        using var outputs = session.Run(inputs);
        best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
    }
    result[Path.GetFileName(path)] = best;
}
Console.WriteLine("{" + string.Join(", ", result.Select(p => string.Create(CultureInfo.InvariantCulture, $"\"{p.Key}\": {p.Value}"))) + "}");
