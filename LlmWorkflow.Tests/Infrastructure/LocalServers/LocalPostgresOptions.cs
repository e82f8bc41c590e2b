namespace LlmWorkflow.Tests.LocalServers;

/// <summary>How a <see cref="LocalPostgres"/> instance is laid out and tuned.</summary>
public sealed record LocalPostgresOptions
{
    /// <summary>The cluster's data directory; created and initialised with <c>initdb</c> when absent.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The TCP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// Turns off fsync and full-page writes (synchronous commit stays on, so an
    /// immediate stop never loses an acknowledged commit): much faster, but a machine crash can corrupt the
    /// cluster. Right for throw-away test clusters (a killed server still recovers); wrong for the AppHost's data.
    /// </summary>
    public bool TradeDurabilityForSpeed { get; init; }

    /// <summary>The server's <c>max_connections</c>; tests run many pools against one server.</summary>
    public int MaxConnections { get; init; } = 300;
}
