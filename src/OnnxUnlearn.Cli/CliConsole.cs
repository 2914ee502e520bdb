namespace OnnxUnlearn.Cli;

/// <summary>Where a command writes: results to <see cref="Out"/>, messages and progress to
/// <see cref="Err"/>. Tests pass string writers; the program passes the process's streams.</summary>
public sealed record CliConsole(TextWriter Out, TextWriter Err)
{
    public static CliConsole System => new(Console.Out, Console.Error);
}

/// <summary>A parsed verb: its options plus the thin call into the library that runs it.</summary>
public interface ICommand
{
    /// <summary>Runs the command and returns the process exit code (0 on success). Problems with
    /// the user's input are thrown as <see cref="UserInputException"/>; <see cref="Program"/> turns
    /// exceptions into messages and exit codes.</summary>
    int Run(CliConsole console);
}
