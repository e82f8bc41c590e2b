namespace LlmWorkflow.Cli.Remote;

/// <summary>The service could not be reached or answered with an error; exits with <see cref="ExitCodes.Failure"/>.</summary>
public sealed class ServiceException(string message) : Exception(message);
