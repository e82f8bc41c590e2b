using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The services hand a pooled connection to its next user without Npgsql's reset (<c>No Reset On Close</c>, set by
/// <see cref="PostgresDataSource.Create"/>): with prepared statements on a connection that
/// reset is seven statements (CLOSE ALL, RESET ALL, UNLISTEN *, …) before the next command, about as many as a job's
/// own. What the reset would have cleared must then never be left behind: an open transaction is still rolled back,
/// and the session advisory locks of maintenance and migrations are released by the product itself.
/// </summary>
[IntegrationTest]
public sealed class PooledConnectionTests(TestServers servers) : IAsyncLifetime
{
    private static readonly string[] ResetStatements =
        ["CLOSE ALL", "RESET ALL", "UNLISTEN *", "DISCARD", "SET SESSION AUTHORIZATION DEFAULT", "pg_advisory_unlock_all"];

    private StatementStatsPostgres _postgres = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _postgres = await StatementStatsPostgres.StartAsync("pooled", Ct);

    public ValueTask DisposeAsync() => _postgres.DisposeAsync();

    [Fact]
    public async Task JobsRunWithoutResettingTheConnectionsTheyReuse()
    {
        // The control: the same data source with the reset asked for in its connection string (which wins) sends it,
        // so the statistics below would show a reset if the services sent one.
        await using (var resetting = PostgresDataSource.Create(_postgres.ConnectionString + ";No Reset On Close=false;Maximum Pool Size=1"))
        {
            await RunPreparedTwiceAsync(resetting);
        }

        var control = await _postgres.StatementsAsync(Ct);
        Assert.Contains(control, s => s.Query.Contains("RESET ALL", StringComparison.Ordinal));
        await _postgres.ResetAsync(Ct);

        var settings = (await TestEnvironment.OnDatabaseAsync(_postgres.ConnectionString, servers)).Settings();
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, Ct);
        var statusUrls = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "hello_transform", input_data = new { name = $"pooled-{i}" } }, Ct);
            var body = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
            Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
            statusUrls.Add($"/api/v1/status/{body!["job_id"]}");
        }

        foreach (var url in statusUrls)
        {
            var job = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(60), Ct);
            Assert.Equal("completed", (string?)job["status"]);
        }

        var statements = await _postgres.StatementsAsync(Ct);
        // The product ran through reused pooled connections: its submissions, claims and finishes are all here.
        Assert.Contains(statements, s => s.Query.Contains("INSERT INTO llm_workflow_jobs", StringComparison.Ordinal));
        Assert.Contains(statements, s => s.Query.Contains("WITH claimable AS", StringComparison.Ordinal));
        Assert.True(statements.Sum(s => s.Calls) > 50, $"{statements.Sum(s => s.Calls)} statements");
        Assert.DoesNotContain(statements, s => ResetStatements.Any(reset => s.Query.Contains(reset, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AReturnedConnectionCarriesNoTransactionToItsNextUser()
    {
        await TestSql.ExecuteAsync(_postgres.ConnectionString, "CREATE TABLE pool_probe (id int)", Ct);
        // One connection in the pool, so the second opening is the same server session as the first.
        await using var dataSource = PostgresDataSource.Create(_postgres.ConnectionString + ";Maximum Pool Size=1");
        int firstSession;
        await using (var connection = await dataSource.OpenConnectionAsync(Ct))
        {
            firstSession = await BackendPidAsync(connection);
            await using var transaction = await connection.BeginTransactionAsync(Ct);
            await using var insert = new NpgsqlCommand("INSERT INTO pool_probe VALUES (1)", connection, transaction);
            await insert.ExecuteNonQueryAsync(Ct);
            // Returned to the pool with the transaction neither committed nor rolled back.
        }

        await using (var connection = await dataSource.OpenConnectionAsync(Ct))
        {
            Assert.Equal(firstSession, await BackendPidAsync(connection));
            await using var count = new NpgsqlCommand("SELECT count(*) FROM pool_probe", connection);
            Assert.Equal(0L, (long)(await count.ExecuteScalarAsync(Ct))!);
            // Had the insert's transaction stayed open, it would still have its transaction id here.
            await using var xid = new NpgsqlCommand("SELECT txid_current_if_assigned() IS NULL", connection);
            Assert.True((bool)(await xid.ExecuteScalarAsync(Ct))!);
        }
    }

    [Fact]
    public async Task MaintenanceAndMigrationsLeaveNoAdvisoryLockOnAPooledConnection()
    {
        // Starting migrates a fresh database under the migration lock; maintenance is run here, not on its schedule.
        await using var worker = await WorkerHost.StartAsync((await TestEnvironment.OnDatabaseAsync(_postgres.ConnectionString, servers)).Settings(), Ct);
        var scheduled = worker.Services.GetRequiredService<ScheduledMaintenance>();
        Assert.True(await scheduled.RunIfDueAsync("pooled-a", Ct));
        Assert.False(await scheduled.RunIfDueAsync("pooled-b", Ct)); // not due again: it returns from inside the lock

        // The connections the worker used are back in its pool, idle; none still holds a session lock.
        Assert.Equal(0L, (long)(await TestSql.ScalarAsync(_postgres.ConnectionString,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", Ct))!);
    }

    private static async Task RunPreparedTwiceAsync(NpgsqlDataSource dataSource)
    {
        for (var i = 0; i < 2; i++)
        {
            await using var connection = await dataSource.OpenConnectionAsync(Ct);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.PrepareAsync(Ct);
            await command.ExecuteScalarAsync(Ct);
        }
    }

    private static async Task<int> BackendPidAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }
}
