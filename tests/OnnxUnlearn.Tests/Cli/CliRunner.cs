using OnnxUnlearn.Cli;

namespace OnnxUnlearn.Tests.Cli;

/// <summary>What one in-process run of the CLI gave.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs <c>onnx-unlearn</c> through <see cref="Program.Run"/> with captured stdout and stderr.</summary>
public static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = Program.Run(args, new CliConsole(stdout, stderr));
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Asserts the error contract: exit code <paramref name="exitCode"/>, exactly one stderr line
    /// "error: ..." containing every <paramref name="mentions"/>, no stack trace, nothing on stdout.
    /// </summary>
    public static void AssertError(CliResult result, int exitCode, params string[] mentions)
    {
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
            Assert.That(result.ErrLines, Has.Length.EqualTo(1), result.ToString());
            Assert.That(result.Err, Does.StartWith("error: "), result.ToString());
            Assert.That(result.Err, Does.Not.Contain("   at "), "stack trace printed without --verbose");
            Assert.That(result.Out, Is.Empty, result.ToString());
            foreach (var mention in mentions)
                Assert.That(result.Err, Does.Contain(mention), result.ToString());
        });
    }
}
