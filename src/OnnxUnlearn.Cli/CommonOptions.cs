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

    /// <summary>The device to run on, with the thread count.</summary>
    /// <exception cref="UserInputException">A bad --device or --threads value.</exception>
    public Device ResolveDevice()
    {
        if (Threads < 0)
            throw new UserInputException($"--threads {Threads}: expected 0 (ONNX Runtime's default) or a positive number");
        return Runtime.Device.Parse(Device, Threads);
    }

    /// <summary>Progress and info lines on stderr, silenced by --quiet.</summary>
    public Progress CreateProgress(CliConsole console) => new(console.Err, Quiet);
}
