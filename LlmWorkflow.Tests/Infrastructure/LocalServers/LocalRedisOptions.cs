namespace LlmWorkflow.Tests.LocalServers;

/// <summary>How a <see cref="LocalRedis"/> instance is laid out.</summary>
public sealed record LocalRedisOptions
{
    /// <summary>Where the append-only file lives; kept across restarts.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The TCP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Optional <c>requirepass</c>; null leaves the server open on loopback.</summary>
    public string? Password { get; init; }
}
