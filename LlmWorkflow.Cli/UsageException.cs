namespace LlmWorkflow.Cli;

/// <summary>Thrown by commands for mistakes in what the user asked (a missing file, bad input JSON); exits with <see cref="ExitCodes.UsageError"/>.</summary>
public sealed class UsageException(string message) : Exception(message);
