namespace OnnxUnlearn;

/// <summary>
/// A problem with what the user gave us (a file, a flag, a model we cannot handle). The message is
/// one line that names the culprit and says what to do; the CLI prints it without a stack trace and
/// exits with code 2.
/// </summary>
public class UserInputException(string message, Exception? inner = null) : Exception(message, inner);
