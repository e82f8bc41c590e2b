using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Hosting;
using Npgsql;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL of one test class's own with <c>pg_stat_statements</c> loaded (a server setting, so not the shared
/// server), for tests that prove which statements the product sends: one database with the extension in it, and the
/// statements run on that database since the last <see cref="ResetAsync"/>.
/// </summary>
public sealed class StatementStatsPostgres : IAsyncDisposable
{
    private readonly TemporaryDirectory _root = new();
    private readonly LocalPostgres _postgres;

    private StatementStatsPostgres(string database)
    {
        Database = database;
        _postgres = new LocalPostgres(new LocalPostgresOptions
        {
            DataDirectory = Path.Combine(_root.Path, "postgres"),
            TradeDurabilityForSpeed = true,
            MaxConnections = 50,
        });
    }

    public string Database { get; }

    /// <summary>The test database's connection string.</summary>
    public string ConnectionString { get; private set; } = null!;

    // The helper's own sessions are never pooled: a pooled one would be reset (a DISCARD ALL counted among the
    // statements) and would keep the database settings of the moment it opened.
    private string OwnConnectionString => ConnectionString + ";Pooling=false";

    /// <summary>The server's own (<c>postgres</c>) database, for server-wide settings.</summary>
    public string ServerConnectionString => _postgres.ConnectionString;

    public static async Task<StatementStatsPostgres> StartAsync(string database, CancellationToken cancellationToken)
    {
        var server = new StatementStatsPostgres(database);
        await server._postgres.StartAsync();
        await TestSql.ExecuteAsync(server._postgres.ConnectionString, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", cancellationToken);
        await server._postgres.StopAsync();
        NpgsqlConnection.ClearPool(new NpgsqlConnection(server._postgres.ConnectionString));
        await server._postgres.StartAsync();
        server.ConnectionString = await server._postgres.CreateDatabaseIfMissingAsync(database);
        await TestSql.ExecuteAsync(server.OwnConnectionString, "CREATE EXTENSION pg_stat_statements", cancellationToken);
        return server;
    }

    /// <summary>Forgets every statement counted so far (on all databases).</summary>
    public Task ResetAsync(CancellationToken cancellationToken) =>
        TestSql.ExecuteAsync(OwnConnectionString, "SELECT pg_stat_statements_reset()", cancellationToken);

    /// <summary>The statements run on the test database since the last reset, each with its calls and JIT-compiled functions.</summary>
    public async Task<IReadOnlyList<StatementStats>> StatementsAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(OwnConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT query, calls, jit_functions FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var statements = new List<StatementStats>();
        while (await reader.ReadAsync(cancellationToken))
        {
            statements.Add(new StatementStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return statements;
    }

    public async ValueTask DisposeAsync()
    {
        await _postgres.DisposeAsync();
        _root.Dispose();
    }
}

/// <summary>One row of <c>pg_stat_statements</c>: the normalised query text, how often it ran, and how many functions JIT compiled for it.</summary>
public sealed record StatementStats(string Query, long Calls, long JitFunctions);
