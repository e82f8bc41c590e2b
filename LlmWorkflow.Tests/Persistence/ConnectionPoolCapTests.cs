using LlmWorkflow.Storage;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// A host's data source opens at most <see cref="PostgresDataSource.DefaultMaxPoolSize"/>
/// connections however many commands arrive at once: the rest wait for a free one. Counted by PostgreSQL itself
/// (<c>pg_stat_activity</c>), with a connection string that sets its own maximum as the control.
/// </summary>
[IntegrationTest]
public sealed class ConnectionPoolCapTests(TestServers servers)
{
    private const int Concurrent = 60;

    [Fact]
    public async Task ABurstOfCommandsQueuesForTheDefaultNumberOfConnections()
    {
        var connectionString = await servers.CreateDatabaseAsync(nameof(ConnectionPoolCapTests));

        var (completed, opened) = await BurstAsync(connectionString, "pool-default");
        Assert.Equal(Concurrent, completed);
        Assert.Equal(PostgresDataSource.DefaultMaxPoolSize, opened);

        // The control: a connection string's own maximum wins, so the cap above is the services' default at work.
        (completed, opened) = await BurstAsync(connectionString + ";Maximum Pool Size=40", "pool-explicit");
        Assert.Equal(Concurrent, completed);
        Assert.Equal(40, opened);
    }

    /// <summary>Runs <see cref="Concurrent"/> 0.2 s statements at once; returns how many finished and the most backends PostgreSQL saw.</summary>
    private static async Task<(int Completed, long Opened)> BurstAsync(string connectionString, string applicationName)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var dataSource = PostgresDataSource.Create($"{connectionString};Application Name={applicationName}");
        await using var observer = NpgsqlDataSource.Create(connectionString + ";Pooling=false");

        var statements = Enumerable.Range(0, Concurrent).Select(async _ =>
        {
            await using var command = dataSource.CreateCommand("SELECT pg_sleep(0.2)");
            await command.ExecuteNonQueryAsync(ct);
            return 1;
        }).ToList();

        long opened = 0;
        var all = Task.WhenAll(statements);
        while (!all.IsCompleted)
        {
            await using var count = observer.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1");
            count.Parameters.AddWithValue(applicationName);
            opened = Math.Max(opened, (long)(await count.ExecuteScalarAsync(ct))!);
            await Task.Delay(20, ct);
        }

        return ((await all).Sum(), opened);
    }
}
