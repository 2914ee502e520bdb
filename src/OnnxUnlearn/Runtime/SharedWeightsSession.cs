using Microsoft.ML.OnnxRuntime;

namespace OnnxUnlearn.Runtime;

/// <summary>
/// A session that reads some float32 initializers from managed arrays given through
/// <see cref="SessionOptions.AddInitializer"/>: ONNX Runtime uses that memory as it is instead of
/// loading the model's copy. The OrtValues over the arrays (which keep them pinned) belong to the
/// session and are released after it. ONNX Runtime may still pre-pack a weight (e.g. a Gemm's B)
/// into a buffer of its own, so the arrays' values must not change while the session lives.
/// </summary>
public sealed class SharedWeightsSession : InferenceSession
{
    private readonly OrtValue[] _weights;

    private SharedWeightsSession(byte[] model, SessionOptions options, OrtValue[] weights) : base(model, options)
    {
        _weights = weights;
    }

    internal static SharedWeightsSession Create(byte[] model, IReadOnlyList<(string Name, float[] Values, long[] Dims)> weights,
        Action<SessionOptions> configure, Device device, GraphOptimizationLevel optimization)
    {
        var values = new List<OrtValue>();
        try
        {
            using var options = device.CreateSessionOptions(optimization);
            configure(options);
            foreach (var (name, data, dims) in weights)
            {
                if (data.LongLength != dims.Aggregate(1L, (a, b) => a * b))
                    throw new ArgumentException($"initializer '{name}': {data.LongLength} values for shape [{string.Join(",", dims)}]", nameof(weights));
                var value = OrtValue.CreateTensorValueFromMemory(data, dims);
                values.Add(value);
                options.AddInitializer(name, value);
            }
            return new SharedWeightsSession(model, options, [.. values]);
        }
        catch
        {
            foreach (var value in values) value.Dispose();
            throw;
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
            foreach (var value in _weights) value.Dispose();
    }
}
