using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Tests.Maintenance;

/// <summary>
/// Scheduled maintenance on real Postgres: two workers share it (advisory lock, one run per interval); stale jobs
/// are failed with an error and their webhook, finished jobs past the retention are deleted in batches, and the
/// last runs are visible on the admin API.
/// </summary>
[IntegrationTest]
public sealed class ScheduledMaintenanceTests(TestServers servers)
{
    private const string Secret = "maintenance-webhook-secret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TwoWorkersRunMaintenanceOnceFailingStaleJobsWithWebhooksAndDeletingOldFinishedJobs()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hooks = await WebhookReceiver.StartAsync(Secret);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ScheduledMaintenanceTests) + "Scheduled");
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.100",
            ["LLM_WEBHOOK_SECRET"] = Secret,
        });
        // Migrate first (a worker with maintenance off), then seed, then start the two maintaining workers.
        await using (var migrator = await WorkerHost.StartAsync(settings, ct))
        {
            // The consumer groups must exist before the maintaining workers start (the first worker may be disposed
            // before it creates them): their reconciler reads missing streams as Redis having lost its state and
            // dispatches every queued job at once, which would run the never-started job instead of failing it.
            await migrator.Services.GetRequiredService<JobQueue>().EnsureConsumerGroupsAsync(ct);
        }

        var stuck = await InsertJobAsync(environment, "processing", created: "3 hours", started: "2 hours", leaseExpires: "-10 minutes", webhook: hooks.HookUrl);
        var leased = await InsertJobAsync(environment, "processing", created: "3 hours", started: "2 hours", leaseExpires: "+5 minutes");
        var forgotten = await InsertJobAsync(environment, "queued", created: "73 hours");
        var recentQueued = await InsertJobAsync(environment, "queued", created: "1 hour");
        var old = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            old.Add(await InsertJobAsync(environment, i % 2 == 0 ? "completed" : "cancelled", created: "8 days", completed: "8 days"));
        }

        var recentDone = await InsertJobAsync(environment, "completed", created: "1 day", completed: "1 day");
        // A schedule's tick history: three ticks past the retention go (with a batch of 2, in two statements), one stays.
        var schedule = Guid.CreateVersion7();
        await TestSql.ExecuteAsync(environment.PostgresConnectionString, """
            INSERT INTO llm_schedules (id, tenant_id, name, workflow_name, cron, timezone, input_data, overlap, catch_up, next_run_at, created_at, updated_at)
            VALUES (@id, 'tests', 'nightly', 'hello_transform', '0 3 * * *', 'UTC', '{}', 'skip', 'last', now() + interval '1 day', now() - interval '9 days', now());
            INSERT INTO llm_schedule_ticks (schedule_id, tick_at, outcome, recorded_at)
            SELECT @id, now() - d * interval '1 day', 'started', now() - d * interval '1 day' FROM unnest(ARRAY[8, 9, 10, 1]) AS d;
            """, ct, ("id", schedule));

        var maintaining = new Dictionary<string, string?>(settings)
        {
            ["Maintenance:Enabled"] = "true",
            ["Maintenance:CheckInterval"] = "00:00:00.100",
            ["Maintenance:DeleteBatchSize"] = "2",
        };
        await using var first = await WorkerHost.StartAsync(new Dictionary<string, string?>(maintaining) { ["Worker:Id"] = "maintenance-a" }, ct);
        await using var second = await WorkerHost.StartAsync(new Dictionary<string, string?>(maintaining) { ["Worker:Id"] = "maintenance-b" }, ct);
        var scheduled = first.Services.GetRequiredService<ScheduledMaintenance>();
        await Eventually.TrueAsync(async () => (await scheduled.LastRunsAsync(ct)).Count == 3, Wait, "the three maintenance tasks recorded");

        var failed = await ReadJobAsync(environment, stuck);
        Assert.Equal(("failed", true, "processing_timeout"), (failed.Status, failed.IsStale, failed.StaleReason));
        Assert.Equal("stale_job", (string?)failed.Error!["type"]);
        Assert.Equal("SYSTEM_ERROR", (string?)failed.Error["category"]);
        Assert.Contains("marked stale", failed.Message, StringComparison.Ordinal);
        var never = await ReadJobAsync(environment, forgotten);
        Assert.Equal(("failed", true, "never_started"), (never.Status, never.IsStale, never.StaleReason));
        Assert.Equal("processing", (await ReadJobAsync(environment, leased)).Status);
        // A recent queued job is not stale (a worker may well have picked it up meanwhile: it is a real queued job).
        Assert.False((await ReadJobAsync(environment, recentQueued)).IsStale);
        Assert.Equal(0, await CountAsync(environment, "SELECT count(*) FROM llm_workflow_jobs WHERE id = ANY($1)", old.ToArray()));
        Assert.Equal("completed", (await ReadJobAsync(environment, recentDone)).Status);
        Assert.Equal(1, await CountAsync(environment, "SELECT count(*) FROM llm_schedule_ticks WHERE schedule_id = ANY($1) AND tick_at > now() - interval '2 days'", [schedule]));
        Assert.Equal(1, await CountAsync(environment, "SELECT count(*) FROM llm_schedule_ticks WHERE schedule_id = ANY($1)", [schedule]));

        // The stale job's workflow.failed webhook, signed, sent once although two workers maintain.
        var requests = await hooks.WaitForRequestsAsync(1, Wait);
        var body = JsonNode.Parse(requests[0].Body)!;
        Assert.Equal(("workflow.failed", stuck.ToString(), "stale_job"), ((string?)body["event"], (string?)body["job_id"], (string?)body["error"]!["type"]));
        Assert.Equal(VerificationResult.Valid, hooks.Verify(requests[0]));
        Assert.Equal(1, await CountAsync(environment, "SELECT count(*) FROM llm_webhook_attempts WHERE job_id = ANY($1)", [stuck]));

        // One run for the interval: the second worker found it done. The last runs are on the admin API.
        var runs = await scheduled.LastRunsAsync(ct);
        var stale = Assert.Single(runs, r => r.Task == ScheduledMaintenance.StaleCleanupTask);
        var retention = Assert.Single(runs, r => r.Task == ScheduledMaintenance.RetentionTask);
        Assert.Equal((2, 5, 3), (stale.Affected, retention.Affected, (int)retention.Details!["batches"]!));
        Assert.Equal(3, (int)retention.Details!["schedule_ticks_purged"]!);
        Assert.Equal(stale.Runner, retention.Runner);
        Assert.Contains(stale.Runner, new[] { "maintenance-a", "maintenance-b" });
        Assert.False(await second.Services.GetRequiredService<ScheduledMaintenance>().RunIfDueAsync("maintenance-b", ct));
        Assert.Equal(retention.FinishedAt, (await scheduled.LastRunsAsync(ct)).Single(r => r.Task == ScheduledMaintenance.RetentionTask).FinishedAt);

        await using var api = new ApiFactory(settings);
        using var admin = api.CreateAuthenticatedClient(admin: true);
        var report = await admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/maintenance", ct);
        Assert.Equal(3600, (double)report!["interval_seconds"]!);
        Assert.Equal(72 * 3600, (double)report["stale_waiting_after_seconds"]!);
        Assert.Equal(7 * 86400, (double)report["retention_seconds"]!);
        var reported = report["last_runs"]!.AsArray().Select(r => ((string?)r!["task"], (int)r["affected"]!)).ToList();
        // No usage rows here: the rollup had no day to add.
        Assert.Equal([("retention", 5), ("stale_cleanup", 2), ("usage_rollup", 0)], reported);
        using var callerClient = api.CreateAuthenticatedClient();
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await callerClient.GetAsync("/api/v1/admin/maintenance", ct)).StatusCode);
    }

    [Fact]
    public async Task ConcurrentRunnersRunMaintenanceOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ScheduledMaintenanceTests) + "Concurrent");
        await using var worker = await WorkerHost.StartAsync(environment.Settings(), ct);
        var scheduled = worker.Services.GetRequiredService<ScheduledMaintenance>();

        var ran = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => scheduled.RunIfDueAsync($"runner-{i}", ct), ct)));

        Assert.Single(ran, r => r);
        Assert.Equal(3, (await scheduled.LastRunsAsync(ct)).Count);
    }

    private static async Task<Guid> InsertJobAsync(
        TestEnvironment environment, string status, string created, string? started = null, string? leaseExpires = null, string? completed = null, string? webhook = null)
    {
        var id = Guid.NewGuid();
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        // Intervals are written into the SQL from the test's own constants. Every row counts as dispatched just now, as
        // a job waiting in a backlog is: the workers' reconciler would otherwise dispatch the never-dispatched ones at
        // start and race the stale cleanup for them.
        await using var command = new NpgsqlCommand($"""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, webhook_url, created_at, queued_at,
                                           dispatched_at, started_at, lease_owner, lease_expires_at, completed_at)
            VALUES ($1, $1::text, 'hello_transform', $2, '{"{}"}', $3, now() - interval '{created}', now() - interval '{created}',
                    now(), {Ago(started)}, {(leaseExpires is null ? "NULL" : "'gone-worker'")}, {(leaseExpires is null ? "NULL" : $"now() + interval '{leaseExpires}'")}, {Ago(completed)})
            """, connection);
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(status);
        command.Parameters.AddWithValue((object?)webhook ?? DBNull.Value);
        await command.ExecuteNonQueryAsync();
        return id;

        static string Ago(string? interval) => interval is null ? "NULL" : $"now() - interval '{interval}'";
    }

    private sealed record JobRow(string Status, bool IsStale, string? StaleReason, string? Message, JsonNode? Error);

    private static async Task<JobRow> ReadJobAsync(TestEnvironment environment, Guid id)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status, is_stale, stale_reason, error_message, error_data::text FROM llm_workflow_jobs WHERE id = $1", connection);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return new JobRow(reader.GetString(0), reader.GetBoolean(1), reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : JsonNode.Parse(reader.GetString(4)));
    }

    private static async Task<long> CountAsync(TestEnvironment environment, string sql, Guid[] ids)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(ids);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
