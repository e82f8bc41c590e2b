using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The claim statement's prepared (generic) plan, on a real PostgreSQL with thousands of queued jobs: each of its
/// lookups of <c>llm_workflow_jobs</c> that is repeated per id it is given reads that id's row only, whether or not it
/// is given workflows to read without a claim. A plan that probes the partial index of queued jobs once per id reads
/// every queued job each time (it did: 500 ids against 500 queued jobs read 250,000 rows). The jobs are not analysed, as in a table filled
/// since its last ANALYZE (a fresh deployment's first minutes, a burst): that is when the planner chose that index.
/// </summary>
[IntegrationTest]
public sealed class ClaimPlanTests(TestServers servers) : IAsyncLifetime
{
    private const int Queued = 3_000;
    private const int Claimed = 100;

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(ClaimPlanTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Theory]
    [InlineData("{}")]
    [InlineData("{hello_transform}")]
    [InlineData("{one_llm_step,hello_transform}")]
    public async Task ALookupRepeatedPerIdReadsOnlyThatIdsRow(string unclaimedWorkflows)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await _db.Database.OpenConnectionAsync(ct);
        await ExecuteAsync(connection, $"""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, queued_at, created_at, updated_at)
            SELECT id, id::text, CASE WHEN n % 2 = 0 THEN 'hello_transform' ELSE 'one_llm_step' END, 'queued', jsonb_build_object(), now(), now(), now()
              FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, {Queued}) AS n) s;
            """, ct);
        var ids = new List<Guid>();
        await using (var pick = new NpgsqlCommand($"SELECT id FROM llm_workflow_jobs ORDER BY id LIMIT {Claimed}", connection))
        await using (var reader = await pick.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetGuid(0));
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, $"""
            SET LOCAL plan_cache_mode = force_generic_plan;
            PREPARE claim_plan (uuid[], text, interval, text[]) AS {JobLifecycleStore.ClaimSql};
            """, ct);
        await using var explain = new NpgsqlCommand(
            $"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim_plan ('{{{string.Join(',', ids)}}}', 'worker-a', '30 seconds', '{unclaimedWorkflows}')",
            connection);
        var plan = JsonNode.Parse((string)(await explain.ExecuteScalarAsync(ct))!)![0]!["Plan"]!;
        await transaction.RollbackAsync(ct);

        var lookups = Nodes(plan).Where(n => (string?)n["Relation Name"] == "llm_workflow_jobs").ToList();
        Assert.NotEmpty(lookups);
        foreach (var node in lookups)
        {
            var loops = (double)node["Actual Loops"]!;
            var readPerLoop = (double)node["Actual Rows"]! + ((double?)node["Rows Removed by Filter"] ?? 0);
            var what = $"{node["Node Type"]} on llm_workflow_jobs ({node["Index Name"]}), {loops} loops, {readPerLoop} rows each: {node.ToJsonString()}";
            // A lookup repeated per id reads its one row; a lookup done once (the UPDATE's join may scan a table it
            // believes small) reads the table at most once.
            Assert.True(loops > 1 ? readPerLoop <= 1 : readPerLoop <= Queued, what);
        }

        // Every id is returned once: claimed, or read without a claim when its workflow is listed.
        Assert.Equal(Claimed, (double)plan["Actual Rows"]!);
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode node) =>
        [node, .. (node["Plans"]?.AsArray() ?? []).SelectMany(child => Nodes(child!))];

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
