using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Worker.Webhooks;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Every named statement of the stores (docs/DATA_ACCESS.md: a <c>const</c> or <c>static readonly</c> string, a
/// <see cref="MultiRowStatement"/>, or a static <c>…Sql(int maxPayloadBytes)</c> builder, in the Pipeline, Worker and
/// Api assemblies) against the migrated schema: PostgreSQL plans it with <c>PREPARE</c> (which infers the parameter
/// types from the statement) and <c>EXPLAIN EXECUTE</c> of its generic plan (the plan a prepared statement settles on;
/// PostgreSQL 15 has no <c>EXPLAIN (GENERIC_PLAN)</c>), with 20,000 jobs of mixed statuses analysed, so the planner
/// chooses as on a real table. No plan may read the jobs table sequentially; and every status a statement guards on
/// is one of the lifecycle table's.
/// </summary>
[IntegrationTest]
public sealed partial class StatementPlanTests(TestServers servers) : IAsyncLifetime
{
    private const int Jobs = 20_000;

    /// <summary>
    /// The settings a statement runs with in production (<see cref="TransactionSettings"/>), applied before it is
    /// planned here too.
    /// </summary>
    private static readonly Dictionary<string, string[]> RunsWith = new()
    {
        ["JobLifecycleStore.RetentionSql"] = [TransactionSettings.NoJit, .. TransactionSettings.NoHashOrMergeJoins],
    };

    /// <summary>
    /// The parameter types of statements whose types PREPARE cannot infer (Npgsql sends each parameter typed, so in
    /// production the server is told), each with why.
    /// </summary>
    private static readonly Dictionary<string, string> DeclaredTypes = new()
    {
        // $1 is both the new row's id (uuid) and its celery_task_id ($1::text): "inconsistent types deduced".
        ["JobLifecycleStore.ForkSql"] = "uuid, uuid, text, timestamptz, text, jsonb, text[]",
    };

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(StatementPlanTests), ct);
        await using var fill = _db.Database.CreateCommand(FillJobsSql);
        await fill.ExecuteNonQueryAsync(ct);
        await using var analyze = _db.Database.CreateCommand("ANALYZE");
        await analyze.ExecuteNonQueryAsync(ct);
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public void TheStatementsOfEveryStoreAreFound()
    {
        var names = Statements().Select(s => s.Name).ToHashSet();

        // One of each way a statement is named, in each assembly: if the collection missed them, the checks below
        // would pass on nothing.
        Assert.Contains("JobLifecycleStore.ClaimSql", names);
        Assert.Contains("JobLifecycleStore.FinishSql(int)", names);
        Assert.Contains("JobLifecycleStore.UsageRows", names);
        Assert.Contains("WebhookDeliveryStore.ClaimDueSql", names);
        Assert.Contains("ApiKeyStore.FindByDigestSql", names);
        Assert.True(names.Count > 80, $"only {names.Count} statements found: {string.Join(", ", names)}");
    }

    [Fact]
    public async Task NoStatementReadsTheJobsTableSequentially()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await _db.Database.OpenConnectionAsync(ct);
        var scans = new List<string>();
        var unplanned = new List<string>();
        foreach (var statement in Statements())
        {
            try
            {
                var plan = await GenericPlanAsync(connection, statement, ct);
                scans.AddRange(SequentialScansOfJobs(plan).Select(node => $"{statement.Name}: {node.ToJsonString()}"));
            }
            catch (PostgresException ex)
            {
                unplanned.Add($"{statement.Name}: {ex.MessageText}");
            }
        }

        Assert.True(unplanned.Count == 0, string.Join("\n", unplanned));
        Assert.True(scans.Count == 0, string.Join("\n", scans));
    }

    [Fact]
    public async Task TheCheckSeesAStatementThatReadsEveryJob()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await _db.Database.OpenConnectionAsync(ct);

        // No index has error_message: the planner can only read the whole table.
        var plan = await GenericPlanAsync(connection, new NamedStatement("unindexed", "SELECT id FROM llm_workflow_jobs WHERE error_message = $1"), ct);

        Assert.Single(SequentialScansOfJobs(plan));
    }

    [Fact]
    public void EveryStatusAStatementGuardsOnIsALifecycleStatus()
    {
        var lifecycle = JobLifecycle.Table.SelectMany(rule => rule.From.Append(rule.To)).Select(status => status.ToWire()).ToHashSet();
        var strays = new List<string>();
        var guarded = 0;
        foreach (var statement in Statements())
        {
            var statuses = StatusGuards(statement.Sql).ToList();
            guarded += statuses.Count == 0 ? 0 : 1;
            strays.AddRange(statuses.Where(status => !lifecycle.Contains(status)).Select(status => $"{statement.Name}: '{status}'"));
        }

        Assert.True(guarded > 20, $"only {guarded} statements guard on a status");
        Assert.True(strays.Count == 0, string.Join("\n", strays));
    }

    /// <summary>The statuses in <c>status = 'x'</c>, <c>status &lt;&gt; 'x'</c> and <c>status [NOT] IN ('x', …)</c> (any alias).</summary>
    private static IEnumerable<string> StatusGuards(string sql) =>
        StatusComparison().Matches(sql).Select(m => m.Groups["status"].Value)
            .Concat(StatusList().Matches(sql).SelectMany(m => Literal().Matches(m.Groups["list"].Value).Select(l => l.Groups[1].Value)));

    [GeneratedRegex(@"(?<![\w])(?:\w+\.)?status\s*(?:=|<>|!=)\s*'(?<status>[^']*)'", RegexOptions.IgnoreCase)]
    private static partial Regex StatusComparison();

    [GeneratedRegex(@"(?<![\w])(?:\w+\.)?status\s+(?:NOT\s+)?IN\s*\((?<list>\s*'[^)]*)\)", RegexOptions.IgnoreCase)]
    private static partial Regex StatusList();

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex Literal();

    /// <summary>
    /// The statement's generic plan: prepared (PostgreSQL infers each parameter's type), then explained with every
    /// parameter NULL, in a transaction that is rolled back (EXPLAIN without ANALYZE runs nothing anyway).
    /// </summary>
    private static async Task<JsonNode> GenericPlanAsync(NpgsqlConnection connection, NamedStatement statement, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            await ExecuteAsync(connection, "SET LOCAL plan_cache_mode = force_generic_plan", ct);
            foreach (var setting in RunsWith.GetValueOrDefault(statement.Name, []))
            {
                await ExecuteAsync(connection, setting, ct);
            }

            var types = DeclaredTypes.TryGetValue(statement.Name, out var declared) ? $" ({declared})" : "";
            await ExecuteAsync(connection, $"PREPARE plan_check{types} AS {statement.Sql}", ct);
            try
            {
                await using var count = new NpgsqlCommand(
                    "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'plan_check'", connection);
                var parameters = (int)(await count.ExecuteScalarAsync(ct))!;
                var arguments = parameters == 0 ? "" : $"({string.Join(", ", Enumerable.Repeat("NULL", parameters))})";
                await using var explain = new NpgsqlCommand($"EXPLAIN (FORMAT JSON) EXECUTE plan_check{arguments}", connection);
                return JsonNode.Parse((string)(await explain.ExecuteScalarAsync(ct))!)![0]!["Plan"]!;
            }
            finally
            {
                await ExecuteAsync(connection, "DEALLOCATE plan_check", ct);
            }
        }
        finally
        {
            await transaction.RollbackAsync(ct);
        }
    }

    private static IEnumerable<JsonNode> SequentialScansOfJobs(JsonNode plan) =>
        Nodes(plan).Where(node => (string?)node["Node Type"] == "Seq Scan" && (string?)node["Relation Name"] == "llm_workflow_jobs");

    private static IEnumerable<JsonNode> Nodes(JsonNode node) =>
        [node, .. (node["Plans"]?.AsArray() ?? []).SelectMany(child => Nodes(child!))];

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    private sealed record NamedStatement(string Name, string Sql);

    /// <summary>
    /// The named statements of the stores: static string fields (<c>const</c> or <c>static readonly</c>) whose text is a
    /// statement, <see cref="MultiRowStatement"/> fields, and static <c>…Sql(int maxPayloadBytes)</c> builders (their
    /// text embeds the webhook payload limit).
    /// </summary>
    private static IEnumerable<NamedStatement> Statements()
    {
        const BindingFlags Static = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        var assemblies = new[] { typeof(JobLifecycleStore).Assembly, typeof(WebhookDeliveryStore).Assembly, typeof(ApiKeyStore).Assembly };
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => !t.ContainsGenericParameters))
        {
            foreach (var field in type.GetFields(Static))
            {
                var sql = field.FieldType == typeof(string) ? (string?)(field.IsLiteral ? field.GetRawConstantValue() : field.GetValue(null))
                    : field.FieldType == typeof(MultiRowStatement) ? ((MultiRowStatement?)field.GetValue(null))?.Sql
                    : null;
                if (sql is not null && IsStatement(sql))
                {
                    yield return new NamedStatement($"{type.Name}.{field.Name}", sql);
                }
            }

            foreach (var method in type.GetMethods(Static).Where(m => m.ReturnType == typeof(string) && m.Name.EndsWith("Sql", StringComparison.Ordinal)
                         && m.GetParameters() is [{ ParameterType: var p }] && p == typeof(int)))
            {
                yield return new NamedStatement($"{type.Name}.{method.Name}(int)", (string)method.Invoke(null, [new WebhookOptions().MaxPayloadBytes])!);
            }
        }
    }

    private static bool IsStatement(string text) => StatementStart().IsMatch(text);

    // Statements are written with upper-case keywords; a message that starts "With …" is not one.
    [GeneratedRegex(@"^\s*(SELECT|UPDATE|INSERT|DELETE|WITH)\s")]
    private static partial Regex StatementStart();

    /// <summary>
    /// 20,000 jobs as a running deployment holds them: mostly finished, a few of each waiting and running state,
    /// over a month, 7 tenants, 50 users, 10 workflows; some with webhooks, schedules, pinned versions, budget waits.
    /// </summary>
    private static readonly string FillJobsSql = $"""
        INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, status, input_data, tenant_id, user_id, username,
                                       webhook_url, definition_hash, schedule_id, queued_at, dispatched_at, created_at, updated_at,
                                       started_at, completed_at, lease_owner, lease_expires_at, run_at, wait_data, attempt, duration_ms)
        SELECT id, id::text, 'workflow_' || (n % 10), n % 5, status, jsonb_build_object('n', n), 'tenant_' || (n % 7), 'user_' || (n % 50),
               'name_' || (n % 50), CASE WHEN n % 4 = 0 THEN 'https://hooks.example/' || n END,
               CASE WHEN n % 2 = 0 THEN 'hash_' || (n % 13) END, CASE WHEN n % 17 = 0 THEN md5('schedule' || (n % 5))::uuid END,
               created_at, CASE WHEN status <> 'scheduled' THEN created_at END, created_at, created_at,
               CASE WHEN status IN ('processing', 'completed', 'failed', 'cancelled') THEN created_at + interval '1 second' END,
               CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN created_at + interval '1 minute' END,
               CASE WHEN status = 'processing' THEN 'worker-' || (n % 3) END,
               CASE WHEN status = 'processing' THEN now() + (n % 3 - 1) * interval '1 minute' END,
               CASE WHEN status IN ('scheduled', 'waiting') THEN now() + (n % 60) * interval '1 minute' END,
               CASE WHEN status = 'waiting' AND n % 2 = 0 THEN jsonb_build_object('kind', 'budget', 'budget', jsonb_build_object('scope', 'openai/gpt'))
                    WHEN status = 'waiting' THEN jsonb_build_object('kind', 'sleep') END,
               CASE WHEN status = 'queued' THEN 0 ELSE 1 END,
               CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN 60000 END
          FROM (SELECT gen_random_uuid() AS id, n, now() - n * interval '2 minutes' AS created_at,
                       CASE WHEN n % 100 < 2 THEN 'queued' WHEN n % 100 < 3 THEN 'processing' WHEN n % 100 < 4 THEN 'scheduled'
                            WHEN n % 100 < 5 THEN 'waiting' WHEN n % 100 < 8 THEN 'failed' WHEN n % 100 < 9 THEN 'cancelled'
                            ELSE 'completed' END AS status
                  FROM generate_series(1, {Jobs}) AS n) s
        """;
}
