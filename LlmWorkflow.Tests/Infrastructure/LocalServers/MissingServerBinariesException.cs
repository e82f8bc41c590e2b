namespace LlmWorkflow.Tests.LocalServers;

/// <summary>A server program (PostgreSQL or Redis) is not installed; the message says what to install.</summary>
public sealed class MissingServerBinariesException : Exception
{
    /// <summary>The command that installs every server the AppHost and the tests need.</summary>
    public const string InstallHint = "apt-get install -y postgresql redis-server";

    /// <summary>Creates the exception for a missing program.</summary>
    public MissingServerBinariesException(string what, string searched)
        : base($"{what} not found (searched {searched}). Install it with: {InstallHint}")
    {
    }

    /// <summary>Creates the exception with a ready-made message.</summary>
    public MissingServerBinariesException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a ready-made message.</summary>
    public MissingServerBinariesException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the default message.</summary>
    public MissingServerBinariesException()
        : base($"PostgreSQL or Redis is not installed. Install them with: {InstallHint}")
    {
    }
}
