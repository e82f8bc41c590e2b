using System.Text.Json.Nodes;
using LlmWorkflow.Pipeline.Persistence;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The jobs table's vacuum policy (migration <c>JobsVacuumPolicy</c>), against real PostgreSQL: on a large table where
/// only the newest jobs churned, a vacuum still makes their pages all-visible, so the job list's count of the newest
/// thousand reads the index alone. PostgreSQL's default skips the index pass when under 2 % of the pages hold dead
/// rows, and leaves those pages to be read row by row (bench/README.md, "The job list at 10 million jobs").
/// </summary>
public sealed class JobsVacuumPolicyTests(TestServers servers)
{
    // What GET /api/v1/jobs sends to count a tenant's newest jobs (JobListCount: one past 1,000), as EF Core writes it.
    private const string ListCount = """
        EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT count(*)::int FROM (
            SELECT 1 FROM llm_workflow_jobs AS l WHERE l.tenant_id = 'main-app' ORDER BY l.created_at DESC, l.id DESC LIMIT 1001) AS s
        """;

    [Fact]
    public async Task AVacuumAfterTheNewestJobsChurnedLeavesTheListCountInTheIndex()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(JobsVacuumPolicyTests));
        await using (var db = MigrationContext.Create(connectionString))
        {
            await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
        }

        // Only this test's VACUUMs run on the table: autovacuum could otherwise come between its steps.
        await TestSql.ExecuteAsync(connectionString, "ALTER TABLE llm_workflow_jobs SET (autovacuum_enabled = false)", ct);

        // 100,000 finished jobs, vacuumed as autovacuum leaves old rows: every page all-visible.
        await TestSql.ExecuteAsync(connectionString, """
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, created_at)
            SELECT gen_random_uuid(), 'task-' || i, 'summarize', 'completed', '{}', now() - make_interval(secs => 100000 - i)
              FROM generate_series(1, 100000) i
            """, ct);
        await TestSql.ExecuteAsync(connectionString, "VACUUM (ANALYZE) llm_workflow_jobs", ct);
        Assert.Equal(0, await ListCountHeapFetchesAsync(connectionString, ct));

        // The newest 200 run as jobs do: claimed, then finished. Two dead versions each, on well under 2 % of the pages.
        foreach (var status in new[] { "processing", "completed" })
        {
            await TestSql.ExecuteAsync(connectionString, """
                UPDATE llm_workflow_jobs SET status = @status, updated_at = now()
                 WHERE id IN (SELECT id FROM llm_workflow_jobs ORDER BY created_at DESC LIMIT 200)
                """, ct, ("status", status));
        }

        Assert.True(await ListCountHeapFetchesAsync(connectionString, ct) >= 200, "the churned jobs' pages are not all-visible before a vacuum");

        // A plain VACUUM takes the table's options, as autovacuum does.
        await TestSql.ExecuteAsync(connectionString, "VACUUM llm_workflow_jobs", ct);

        Assert.Equal(0, await ListCountHeapFetchesAsync(connectionString, ct));
    }

    [Fact]
    public async Task AutovacuumStartsAfterAFixedNumberOfDeadJobRowsWhateverTheTableSize()
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await servers.CreateDatabaseAsync(nameof(AutovacuumStartsAfterAFixedNumberOfDeadJobRowsWhateverTheTableSize));
        await using (var db = MigrationContext.Create(connectionString))
        {
            await new DatabaseMigrator(db, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(ct);
        }

        var options = await TestSql.ScalarAsync(connectionString, "SELECT reloptions FROM pg_class WHERE relname = 'llm_workflow_jobs'", ct);

        Assert.Equal(["autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=2000", "vacuum_index_cleanup=on"], (string[])options!);
    }

    /// <summary>How many rows the list's count read from the table (an index-only scan's heap fetches).</summary>
    private static async Task<int> ListCountHeapFetchesAsync(string connectionString, CancellationToken ct)
    {
        var plan = JsonNode.Parse((string)(await TestSql.ScalarAsync(connectionString, ListCount, ct))!)![0]!["Plan"]!;
        var scans = Nodes(plan).Where(node => (string?)node["Node Type"] == "Index Only Scan").ToList();
        // The count must be an index-only scan for the question to mean anything.
        var scan = Assert.Single(scans);
        return (int)scan["Heap Fetches"]!;
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode node) =>
        new[] { node }.Concat((node["Plans"]?.AsArray() ?? []).SelectMany(child => Nodes(child!)));
}
