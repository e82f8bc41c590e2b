using System.Diagnostics;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Persistence;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

[assembly: AssemblyFixture(typeof(LlmWorkflow.Tests.Infrastructure.TestServers))]

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// One real PostgreSQL and one real redis-server per test run, started from the local binaries in a temporary
/// folder when a test first asks for one (a run of unit tests starts neither). Test classes isolate themselves with
/// their own database and Redis key prefix (<see cref="TestEnvironment"/>).
/// </summary>
public sealed class TestServers : IAsyncDisposable
{
    private readonly Lazy<string> _root = new(() => Directory.CreateTempSubdirectory("llmwf-tests-").FullName);
    private readonly Lazy<Task<LocalPostgres>> _postgres;
    private readonly Lazy<Task<LocalRedis>> _redis;
    private readonly Lazy<Task<string>> _migratedTemplate;
    private int _databases;

    public TestServers()
    {
        _postgres = new(() => StartOnce(
            () => new LocalPostgres(new LocalPostgresOptions
            {
                DataDirectory = Path.Combine(_root.Value, "postgres"),
                TradeDurabilityForSpeed = true,
            }),
            postgres => postgres.StartAsync()));
        _redis = new(() => StartOnce(
            () => new LocalRedis(new LocalRedisOptions { DataDirectory = Path.Combine(_root.Value, "redis") }),
            redis => redis.StartAsync()));
        _migratedTemplate = new(() =>
        {
            // Made once for every test, outside the asking test's execution context (as the servers are).
            using (ExecutionContext.SuppressFlow())
            {
                return Task.Run(MigrateTemplateAsync);
            }
        });
    }

    /// <summary>Whether either server was asked for (and so started, or tried to).</summary>
    public bool Started => _postgres.IsValueCreated || _redis.IsValueCreated;

    /// <summary>The shared PostgreSQL, started on first use.</summary>
    public Task<LocalPostgres> PostgresAsync()
    {
        TestKindGuard.RefuseInUnitTest("it asks for the shared PostgreSQL (TestServers)");
        return _postgres.Value;
    }

    /// <summary>The shared redis-server, started on first use.</summary>
    public Task<LocalRedis> RedisAsync()
    {
        TestKindGuard.RefuseInUnitTest("it asks for the shared redis-server (TestServers)");
        return _redis.Value;
    }

    /// <summary>Creates an empty database for one test class and returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync(string hint) => CreateDatabaseAsync(hint, template: null);

    /// <summary>
    /// Creates a database for one test class that already holds the current schema, and returns its connection
    /// string: a copy of a database migrated once per run, so the hosts a test starts find nothing to migrate. Each
    /// migration from empty cost a test about 0.2 s of EF Core and DDL, several hundred times a run; a copy is a file
    /// copy. Tests of the migration itself take an empty database (<see cref="CreateDatabaseAsync(string)"/>).
    /// </summary>
    public async Task<string> CreateMigratedDatabaseAsync(string hint)
    {
        await PostgresAsync(); // Refuses a unit test before anything starts.
        return await CreateDatabaseAsync(hint, await _migratedTemplate.Value);
    }

    private async Task<string> CreateDatabaseAsync(string hint, string? template)
    {
        var postgres = await PostgresAsync();
        var name = $"t{Interlocked.Increment(ref _databases)}_{new string(hint.ToLowerInvariant().Where(char.IsLetterOrDigit).Take(40).ToArray())}";
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        var copy = template is null ? "" : $" TEMPLATE \"{template}\"";
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"{copy}", connection);
        await command.ExecuteNonQueryAsync();
        return postgres.GetConnectionString(name);
    }

    /// <summary>
    /// The run's migrated template: migrated through the production migrator on an unpooled connection, so no session
    /// is left on it (PostgreSQL copies a database only while nobody is connected to it).
    /// </summary>
    private async Task<string> MigrateTemplateAsync()
    {
        const string template = "template_migrated";
        var postgres = await PostgresAsync();
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{template}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        var unpooled = new NpgsqlConnectionStringBuilder(postgres.GetConnectionString(template)) { Pooling = false }.ConnectionString;
        await using var db = MigrationContext.Create(unpooled);
        await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        return template;
    }

    public async ValueTask DisposeAsync()
    {
        // Only what was started is stopped: disposing never starts a server.
        if (_redis.IsValueCreated && await SucceededAsync(_redis.Value) is { } redis)
        {
            await redis.DisposeAsync();
        }

        if (_postgres.IsValueCreated && await SucceededAsync(_postgres.Value) is { } postgres)
        {
            await postgres.DisposeAsync();
        }

        if (!_root.IsValueCreated)
        {
            return;
        }

        // A run leaves gigabytes of databases (one per test class or case): deleting them took minutes after the last
        // test, so a detached rm (its own session, not the test host's child to wait for) removes them while the run
        // ends. Without setsid the OS cleans the temp folder later.
        try
        {
            using var remover = Process.Start(new ProcessStartInfo("setsid", ["rm", "-rf", _root.Value]) { UseShellExecute = false });
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No setsid here: the temp folder stays for the OS's own cleanup.
        }
    }

    /// <summary>
    /// Starts a server for the whole run outside the asking test's execution context: that test's cancellation and
    /// output belong to it alone, the server to every test.
    /// </summary>
    private static Task<T> StartOnce<T>(Func<T> create, Func<T, Task> start)
        where T : IAsyncDisposable
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(async () =>
            {
                var server = create();
                try
                {
                    await start(server);
                    return server;
                }
                catch
                {
                    // What did start (a process that never became ready) must not outlive the run.
                    await server.DisposeAsync();
                    throw;
                }
            });
        }
    }

    /// <summary>The server when its start succeeded; a failed start was already reported to the tests that asked.</summary>
    private static async Task<T?> SucceededAsync<T>(Task<T> start)
        where T : class
    {
        try
        {
            return await start;
        }
        catch (Exception)
        {
            return null;
        }
    }
}
