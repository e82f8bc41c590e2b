using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Storage;

/// <summary>How each host builds its one PostgreSQL data source (both hosts' wiring calls <see cref="Create"/>).</summary>
public static class PostgresDataSource
{
    /// <summary>Seconds to wait for a new connection (and for a free one in a full pool) unless the connection string says otherwise.</summary>
    public const int DefaultConnectTimeoutSeconds = 5;

    /// <summary>The connections a host's data source opens at most unless its connection string says otherwise.</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>
    /// The one Postgres data source of a host. The pipeline runs a handful of statements thousands of times, so they
    /// are prepared after a few uses (<c>Max Auto Prepare</c>): Postgres otherwise parses and plans every execution,
    /// which profiling put at about 30 % of its CPU. A pooled connection is handed out again without a reset
    /// (<c>No Reset On Close</c>): with prepared statements on it, Npgsql's reset is seven statements run before the
    /// next command (CLOSE ALL, RESET ALL, UNLISTEN *, …), as many as the pipeline's own per batch, and the service
    /// leaves no session state behind (settings are <c>SET LOCAL</c>, advisory locks are unlocked in <c>finally</c>;
    /// an open transaction is still rolled back). A host opens at most <see cref="DefaultMaxPoolSize"/> connections
    /// (<c>Maximum Pool Size</c>): commands queue for a free one instead of making Postgres start another backend in
    /// the middle of a burst, and every replica's pool together must fit the server's <c>max_connections</c>. A
    /// connection string that sets any of these keywords itself wins. The slim builder registers only the type families
    /// the schema uses (scalars, arrays of them, JSON), with TLS and Kerberos/GSSAPI sign-in as before: the full builder's
    /// other types (ranges, multiranges, network, geometric, full-text) build their mapping tables on a command's first
    /// array parameter, in a service's first request.
    /// </summary>
    public static NpgsqlDataSource Create(string connectionString, ILoggerFactory? loggerFactory = null)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString)
            .EnableArrays()
            .EnableJsonTypes()
            .EnableDynamicJson()
            .EnableTransportSecurity()
            .EnableIntegratedSecurity();
        if (loggerFactory is not null)
        {
            // Npgsql's own warnings (a broken connection, a failed prepare) reach the host's logs.
            builder.UseLoggerFactory(loggerFactory);
        }

        if (!Sets(connectionString, "Auto Prepare"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        }

        if (!Sets(connectionString, "Reset On Close"))
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }

        if (!Sets(connectionString, "Maximum Pool Size", "Max Pool Size", "MaxPoolSize"))
        {
            builder.ConnectionStringBuilder.MaxPoolSize = DefaultMaxPoolSize;
        }

        if (!new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("Timeout"))
        {
            // Npgsql waits 15 s for a connection by default: an API request would wait that long to answer 503 when the
            // server is unreachable (not refusing, e.g. during a failover).
            builder.ConnectionStringBuilder.Timeout = DefaultConnectTimeoutSeconds;
        }

        return builder.Build();
    }

    /// <summary>Whether the connection string names any of the keywords (or their synonyms) itself.</summary>
    private static bool Sets(string connectionString, params string[] keywords) =>
        keywords.Any(keyword => connectionString.Contains(keyword, StringComparison.OrdinalIgnoreCase));
}
