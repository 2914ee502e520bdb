using CommandLine;
using OnnxUnlearn.Cli.Output;
using OnnxUnlearn.Runtime;

namespace OnnxUnlearn.Cli;

/// <summary>Flags every verb takes: output style, threads and device.</summary>
public abstract class CommonOptions
{
    [Option("verbose", HelpText = "Print more detail, and the stack trace with an error.")]
    public bool Verbose { get; set; }

    [Option('q', "quiet", HelpText = "Print no progress or informational messages on stderr.")]
    public bool Quiet { get; set; }

    [Option("json", HelpText = "Print the result as JSON on stdout.")]
    public bool Json { get; set; }

    [Option("threads", Default = 0, HelpText = "CPU threads for ONNX Runtime (0: its default, one per core).")]
    public int Threads { get; set; }

    [Option("device", Default = "cpu", HelpText = "Where to run: cpu, cuda or cuda:N (CUDA needs the GPU build, 'make build-gpu').")]
    public string Device { get; set; } = "cpu";

    [Option("tf32", HelpText = "On CUDA, let matrix products and convolutions use TF32: faster on Ampere and newer GPUs, about 1e-3 relative error per product (default: full float32).")]
    public bool Tf32 { get; set; }

    /// <summary>The device to run on, with the thread count.</summary>
    /// <exception cref="UserInputException">A bad --device or --threads value.</exception>
    public Device ResolveDevice()
    {
        if (Threads < 0)
            throw new UserInputException($"--threads {Threads}: expected 0 (ONNX Runtime's default) or a positive number");
        var device = Runtime.Device.Parse(Device, Threads);
        if (Tf32 && !device.IsCuda)
            throw new UserInputException($"--tf32: only CUDA devices have TF32; drop it or add --device cuda");
        return device with { Tf32 = Tf32 };
    }

    /// <summary>Progress and info lines on stderr, silenced by --quiet.</summary>
    public Progress CreateProgress(CliConsole console) => new(console.Err, Quiet);
}
