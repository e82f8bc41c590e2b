using LlmWorkflow.AppHost.Resources;
using Npgsql;

namespace LlmWorkflow.Tests.Hosting;

public sealed class LocalPostgresTests
{
    [Fact]
    public async Task StartedServerAcceptsQueriesOverTcp()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var postgres = new LocalPostgres(new() { DataDirectory = directory.Combine("pg"), TradeDurabilityForSpeed = true });
        await postgres.StartAsync(ct);

        Assert.Equal(1, await ScalarAsync<int>(postgres.ConnectionString, "select 1", ct));
        Assert.Equal("300", await ScalarAsync<string>(postgres.ConnectionString, "show max_connections", ct));
        Assert.Equal("off", await ScalarAsync<string>(postgres.ConnectionString, "show fsync", ct));
        Assert.Equal("UTF8", await ScalarAsync<string>(postgres.ConnectionString, "show server_encoding", ct));
    }

    [Fact]
    public async Task CreatesADatabaseOnlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var postgres = new LocalPostgres(new() { DataDirectory = directory.Combine("pg"), TradeDurabilityForSpeed = true });
        await postgres.StartAsync(ct);

        var first = await postgres.CreateDatabaseIfMissingAsync("llmworkflow", ct);
        var second = await postgres.CreateDatabaseIfMissingAsync("llmworkflow", ct);

        Assert.Equal(first, second);
        Assert.Equal("llmworkflow", await ScalarAsync<string>(first, "select current_database()", ct));
        await Assert.ThrowsAsync<ArgumentException>(() => postgres.CreateDatabaseIfMissingAsync("x\"; drop", ct));
    }

    [Fact]
    public async Task CommittedRowsSurviveAnImmediateStopAndRestart()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var postgres = new LocalPostgres(new() { DataDirectory = directory.Combine("pg"), TradeDurabilityForSpeed = true });
        await postgres.StartAsync(ct);
        await ExecuteAsync(postgres.ConnectionString, "create table jobs (id int primary key); insert into jobs values (7)", ct);

        await postgres.StopAsync(immediate: true, ct);
        Assert.False(postgres.IsRunning);
        NpgsqlConnection.ClearAllPools();
        await Assert.ThrowsAsync<NpgsqlException>(() => ScalarAsync<int>(postgres.ConnectionString, "select 1", ct));
        await postgres.StartAsync(ct);

        Assert.Equal(7, await ScalarAsync<int>(postgres.ConnectionString, "select id from jobs", ct));
    }

    [Fact]
    public async Task DurableByDefault()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        await using var postgres = new LocalPostgres(new() { DataDirectory = directory.Combine("pg") });
        await postgres.StartAsync(ct);

        Assert.Equal("on", await ScalarAsync<string>(postgres.ConnectionString, "show fsync", ct));
        Assert.Equal("127.0.0.1", await ScalarAsync<string>(postgres.ConnectionString, "show listen_addresses", ct));
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
