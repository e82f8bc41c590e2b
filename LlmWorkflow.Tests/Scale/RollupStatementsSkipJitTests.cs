using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Scale;

/// <summary>
/// The statements that join the usage rollup (a retention batch, a job delete, the usage report's queries) run without
/// JIT compilation whatever the server's thresholds: PostgreSQL over-estimates their index probes, and at 10 M jobs it
/// compiled each execution for up to 1.75 s. Proved on a PostgreSQL of its own, with pg_stat_statements loaded and
/// <c>jit_above_cost = 0</c> on the database, so that every other statement is compiled (the control query shows it).
/// </summary>
[IntegrationTest]
public sealed class RollupStatementsSkipJitTests(TestServers servers) : IAsyncLifetime
{
    private StatementStatsPostgres _postgres = null!;
    private string _connectionString = null!;
    private ApiFactory _api = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _postgres = await StatementStatsPostgres.StartAsync("jit", Ct);
        _connectionString = _postgres.ConnectionString;
        await TestSql.ExecuteAsync(_postgres.ServerConnectionString, $"ALTER DATABASE {_postgres.Database} SET jit_above_cost = 0", Ct);
        _api = new ApiFactory((await TestEnvironment.OnDatabaseAsync(_connectionString, servers)).Settings());
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task RetentionAJobDeleteAndTheUsageReportAreNotJitCompiled()
    {
        using var admin = _api.CreateAuthenticatedClient(admin: true);
        Assert.True((await admin.GetAsync("/api/v1/admin/usage", Ct)).IsSuccessStatusCode); // migrated
        await TestSql.ExecuteAsync(_connectionString, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, user_id, username, status, input_data, completed_at, tenant_id, created_at)
            SELECT md5('jit-' || i)::uuid, md5('jit-' || i), 'alpha', 'user-' || (i % 5), 'name-' || (i % 5), 'completed', '{}',
                   now() - i * interval '5 hours', 'main', now() - i * interval '5 hours' - interval '1 minute'
              FROM generate_series(1, 60) i;
            INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, created_at)
            SELECT md5('jit-' || i)::uuid, 'fake', 'm-one', 10, 5, 15, 0.000150, now() - i * interval '5 hours'
              FROM generate_series(1, 60) i;
            """, Ct);
        // Rolled up, so that each delete below subtracts its calls from the rollup and the report reads it.
        Assert.True(await new UsageRollup(_api.Services.GetRequiredService<NpgsqlDataSource>(), TimeProvider.System).RollUpAsync(Ct) > 0);
        await _postgres.ResetAsync(Ct);

        using (var report = await admin.GetAsync("/api/v1/admin/usage?days=30", Ct))
        {
            Assert.True(report.IsSuccessStatusCode, await report.Content.ReadAsStringAsync(Ct));
        }

        var doomed = await TestSql.QueryIdsAsync(_connectionString, "SELECT md5('jit-' || i)::uuid FROM generate_series(1, 3) i", Ct);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/jobs/bulk") { Content = JsonContent.Create(new { job_ids = doomed }) })
        using (var response = await admin.SendAsync(request, Ct))
        {
            Assert.Equal(3, (int)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["deleted"]!);
        }

        await using (var scope = _api.Services.CreateAsyncScope())
        {
            var retention = await scope.ServiceProvider.GetRequiredService<JobMaintenance>().DeleteFinishedAsync(TimeSpan.FromDays(5), Ct, batchSize: 20);
            Assert.True(retention.Deleted > 20, $"{retention}");
        }

        // The control: any other statement on this database is compiled.
        await TestSql.ScalarAsync(_connectionString, "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed'", Ct);

        var statements = await _postgres.StatementsAsync(Ct);
        Assert.True(statements.Single(s => s.Query.StartsWith("SELECT count(*) FROM llm_workflow_jobs", StringComparison.Ordinal)).JitFunctions > 0,
            "JIT is not on in this server, so the test proves nothing: is PostgreSQL's llvmjit installed?");
        var rollupStatements = statements.Where(s => s.Query.Contains("llm_usage_", StringComparison.Ordinal)).ToList();
        Assert.Contains(rollupStatements, s => s.Query.Contains("DELETE FROM llm_workflow_jobs WHERE id = ANY", StringComparison.Ordinal));
        Assert.Contains(rollupStatements, s => s.Query.Contains("ORDER BY created_at", StringComparison.Ordinal) && s.Query.Contains("WITH doomed AS", StringComparison.Ordinal));
        Assert.Contains(rollupStatements, s => s.Query.Contains("FROM llm_usage_daily WHERE day >=", StringComparison.Ordinal));
        Assert.All(rollupStatements, s => Assert.True(s.JitFunctions == 0, $"compiled with JIT ({s.JitFunctions} functions): {s.Query}"));
    }
}
