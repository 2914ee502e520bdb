using System.Reflection;
using CommandLine;
using CommandLine.Text;
using OnnxUnlearn.Cli.Verbs;

namespace OnnxUnlearn.Cli;

/// <summary>
/// The <c>onnx-unlearn</c> entry point: parses the verb and its flags, runs it, and turns every
/// failure into one line on stderr and an exit code: 0 success; 2 bad usage or bad input (a bad
/// flag, a missing or malformed file, a model or data the tool cannot handle:
/// <see cref="UserInputException"/>); 1 a failure of the job itself. The stack trace is printed
/// only with --verbose.
/// </summary>
public static class Program
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    /// <summary>Every verb, one line each; each type is a [Verb] options class implementing <see cref="ICommand"/>.</summary>
    internal static readonly Type[] Verbs =
    [
        typeof(InspectVerb),
        typeof(EvalVerb),
        typeof(ForgetVerb),
        typeof(GradVerb),
        typeof(TrainVerb),
        typeof(ArtifactsVerb),
        typeof(CompareVerb),
    ];

    public static int Main(string[] args) => Run(args, CliConsole.System);

    /// <summary>Runs the command line in-process, writing to <paramref name="console"/>.</summary>
    public static int Run(string[] args, CliConsole console)
    {
        using var parser = new Parser(settings =>
        {
            settings.HelpWriter = null; // help goes to stdout when asked for, to stderr with an error
            settings.CaseInsensitiveEnumValues = true;
            settings.AutoHelp = true;
            settings.AutoVersion = true;
        });
        var result = parser.ParseArguments(args, Verbs);
        return result.MapResult(
            (ICommand command) => Execute(command, console),
            errors => ReportParseErrors(result, errors.ToList(), console));
    }

    public static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(Program).Assembly.GetName().Version?.ToString() ?? "0";

    private static int Execute(ICommand command, CliConsole console)
    {
        var verbose = command is CommonOptions { Verbose: true };
        try
        {
            return command.Run(console);
        }
        catch (Exception e) when (Unwrap(e) is UserInputException user)
        {
            return Fail(console, user, ExitUsage, verbose);
        }
        catch (Exception e)
        {
            return Fail(console, Unwrap(e), ExitFailure, verbose);
        }
    }

    private static int Fail(CliConsole console, Exception e, int exitCode, bool verbose)
    {
        console.Out.Flush();
        console.Err.WriteLine("error: " + OneLine(e.Message));
        if (verbose)
            console.Err.WriteLine(e.ToString());
        console.Err.Flush();
        return exitCode;
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is TargetInvocationException { InnerException: { } inner } ? Unwrap(inner)
        : e;

    /// <summary>The message on one line: its lines joined, blank ones dropped.</summary>
    private static string OneLine(string message) =>
        string.Join(" ", message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private static int ReportParseErrors(ParserResult<object> result, List<Error> errors, CliConsole console)
    {
        if (errors.IsVersion())
        {
            console.Out.WriteLine($"onnx-unlearn {Version}");
            return ExitOk;
        }
        var verbsIndex = errors.Any(e => e.Tag is ErrorType.NoVerbSelectedError or ErrorType.BadVerbSelectedError);
        var help = errors.IsHelp()
            ? HelpText.AutoBuild(result, maxDisplayWidth: 100)
            : HelpText.AutoBuild(result, h => HelpText.DefaultParsingErrorsHandler(result, h), e => e, verbsIndex, maxDisplayWidth: 100);
        help.Heading = $"onnx-unlearn {Version}: make ONNX classifiers forget classes";
        help.Copyright = string.Empty;
        if (errors.IsHelp())
        {
            console.Out.WriteLine(help.ToString());
            return ExitOk;
        }
        console.Err.WriteLine(help.ToString());
        return ExitUsage;
    }
}
