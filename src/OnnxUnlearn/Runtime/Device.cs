using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace OnnxUnlearn.Runtime;

/// <summary>
/// Where sessions run: the CPU (default) or a CUDA GPU through ONNX Runtime's CUDA execution
/// provider, which only the GPU build (<c>make build-gpu</c>) contains. Asking for CUDA where it
/// cannot run is an error, never a silent fall-back to the CPU.
/// </summary>
public sealed record Device(string Kind, int Index, int Threads)
{
    public static Device Cpu(int threads = 0) => new("cpu", 0, threads);

    public bool IsCuda => Kind == "cuda";

    /// <summary>
    /// On CUDA, let matrix products and convolutions round their inputs to TF32 (10-bit mantissa;
    /// Ampere and newer GPUs). Off by default: gradients then agree with the CPU's to about 1e-5
    /// instead of up to 8e-2 of their largest value (measured on an H200, README "GPU check").
    /// </summary>
    public bool Tf32 { get; init; }

    /// <summary>Environment variable naming a path prefix: every session then writes ONNX Runtime's profile (PREFIX_*.json) when it ends.</summary>
    public const string ProfileVariable = "ONNX_UNLEARN_PROFILE";

    public override string ToString() => IsCuda ? (Tf32 ? $"cuda:{Index} (tf32)" : $"cuda:{Index}") : "cpu";

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string text, int threads)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu(threads);
        if (t == "cuda") return new Device("cuda", 0, threads);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            return new Device("cuda", index, threads);
        throw new UserInputException($"--device '{text}': expected cpu, cuda or cuda:N");
    }

    public static bool GpuBuild =>
#if ONNXRUNTIME_GPU
        true;
#else
        false;
#endif

    /// <summary>Session options for this device. The caller disposes them.</summary>
    public SessionOptions CreateSessionOptions(GraphOptimizationLevel optimization)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = optimization,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (Threads > 0)
        {
            options.IntraOpNumThreads = Threads;
            options.InterOpNumThreads = 1;
        }
        var profile = Environment.GetEnvironmentVariable(ProfileVariable);
        if (!string.IsNullOrEmpty(profile))
        {
            options.ProfileOutputPathPrefix = profile;   // before EnableProfiling, which takes the prefix it finds
            options.EnableProfiling = true;
        }
        if (IsCuda)
        {
            if (!GpuBuild)
            {
                options.Dispose();
                throw new UserInputException($"--device {this}: this is the CPU build of onnx-unlearn; build the GPU one with 'make build-gpu' (needs CUDA 13 and cuDNN 9)");
            }
            try
            {
                // cuDNN picks convolution algorithms by its heuristics, as PyTorch does by default
                // (cudnn.benchmark off). With ONNX Runtime's default, an exhaustive search, the first
                // step of every training session took 0.42–0.50 s on an H200 (0.06–0.10 s now; the
                // next steps 17–21 ms either way), and UNSIR of the sample CNN 4.0 s (2.8 s now).
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(new Dictionary<string, string>
                {
                    ["device_id"] = Index.ToString(CultureInfo.InvariantCulture),
                    ["use_tf32"] = Tf32 ? "1" : "0",
                    ["cudnn_conv_algo_search"] = "HEURISTIC",
                });
                options.AppendExecutionProvider_CUDA(cuda);
            }
            catch (OnnxRuntimeException e)
            {
                options.Dispose();
                throw new UserInputException($"--device {this}: the CUDA execution provider could not start ({FirstLine(e.Message)}); check the GPU, the driver, CUDA 13 and cuDNN 9", e);
            }
        }
        return options;
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
