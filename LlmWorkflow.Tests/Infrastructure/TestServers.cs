using LlmWorkflow.Tests.LocalServers;
using Npgsql;

[assembly: AssemblyFixture(typeof(LlmWorkflow.Tests.Infrastructure.TestServers))]

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// One real PostgreSQL and one real redis-server per test run, started from the local binaries in a temporary
/// folder. Test classes isolate themselves with their own database and Redis key prefix (<see cref="TestEnvironment"/>).
/// </summary>
public sealed class TestServers : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("llmwf-tests-").FullName;
    private int _databases;

    public LocalPostgres Postgres { get; private set; } = null!;

    public LocalRedis Redis { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Postgres = new LocalPostgres(new LocalPostgresOptions
        {
            DataDirectory = Path.Combine(_root, "postgres"),
            TradeDurabilityForSpeed = true,
        });
        Redis = new LocalRedis(new LocalRedisOptions { DataDirectory = Path.Combine(_root, "redis") });
        await Task.WhenAll(Postgres.StartAsync(), Redis.StartAsync());
    }

    /// <summary>Creates an empty database for one test class and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string hint)
    {
        var name = $"t{Interlocked.Increment(ref _databases)}_{new string(hint.ToLowerInvariant().Where(char.IsLetterOrDigit).Take(40).ToArray())}";
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return Postgres.GetConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A server may still be releasing files; the temp folder is cleaned by the OS later.
        }
    }
}
