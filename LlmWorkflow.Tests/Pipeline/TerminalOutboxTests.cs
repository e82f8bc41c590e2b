using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Npgsql;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The webhook outbox is transactional: a terminal transition and its event row commit together or not at all, so
/// no crash can leave a finished job without its event and no sweeper is needed to repair one.
/// </summary>
[SystemTest]
public sealed class TerminalOutboxTests(TestServers servers) : IAsyncLifetime
{
    // Rows for this URL are rejected by a CHECK constraint the tests add: the event INSERT fails like a crash would.
    private const string RejectedUrl = "http://reject.invalid/hook";

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(TerminalOutboxTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task FinishIsUndoneWhenItsEventCannotBeRecorded()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, webhookUrl: RejectedUrl);
        var outcome = new JobOutcome(JobStatus.Completed, new JsonObject { ["output"] = "done" }, null, 1, 1, 0m);

        await using (await RejectEventsAsync())
        {
            await Assert.ThrowsAsync<PostgresException>(() => _db.Run.FinishAsync(id, "worker-a", outcome, CancellationToken.None));

            Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
            Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND lease_owner = 'worker-a' AND completed_at IS NULL", id));
            Assert.Empty(await _db.TerminalEventsAsync(id));
        }

        // Once the event can be written, the same finish succeeds and records exactly one event.
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", outcome, CancellationToken.None));
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
        Assert.Equal(new[] { ("workflow.completed", "completed") }, await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task CancelIsUndoneWhenItsEventCannotBeRecorded()
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued, webhookUrl: RejectedUrl);

        await using (await RejectEventsAsync())
        {
            await Assert.ThrowsAsync<PostgresException>(() => _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));
            Assert.Equal(JobStatus.Queued, await _db.StatusAsync(id));
        }

        Assert.Equal(CancelOutcome.Cancelled, await _db.CommandsAsync(c => c.CancelAsync(id, CancellationToken.None)));
        Assert.Equal(new[] { ("workflow.cancelled", "cancelled") }, await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task StaleCleanupIsUndoneWhenAnEventCannotBeRecorded()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true, age: TimeSpan.FromDays(1), webhookUrl: RejectedUrl);

        await using (await RejectEventsAsync())
        {
            await Assert.ThrowsAsync<PostgresException>(() =>
                _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total));
            Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
        }

        Assert.Equal(1, await _db.MaintenanceAsync(async m => (await m.CleanupStaleAsync(TimeSpan.FromHours(1), TimeSpan.FromHours(72), CancellationToken.None)).Total));
        Assert.Equal(new[] { ("workflow.failed", "failed") }, await _db.TerminalEventsAsync(id));
    }

    [Fact]
    public async Task JobsWithoutAWebhookRecordNoEvent()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, webhookUrl: null);

        Assert.True(await _db.Run.FinishAsync(id, "worker-a",
            new JobOutcome(JobStatus.Failed, null, new WorkflowError { Type = "T", Category = ErrorCategory.SystemError, Message = "m" }, 0, 0, 0m),
            CancellationToken.None));

        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_webhook_attempts WHERE job_id = $1", id));
    }

    [Fact]
    public async Task WorkerKilledWhileJobsFinishLeavesNoFinishedJobWithoutItsEvent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await WebhookReceiver.StartAsync("crash-secret");
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WorkerKilledWhileJobsFinishLeavesNoFinishedJobWithoutItsEvent));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.200",
            ["Worker:LeaseDuration"] = "00:00:02",
            ["Worker:ReclaimInterval"] = "00:00:00.500",
            ["Worker:RedispatchAfter"] = "00:00:03",
            ["Worker:ReconcileInterval"] = "00:00:01",
        });
        await using var database = NpgsqlDataSource.Create(environment.PostgresConnectionString);

        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        const int jobs = 300;
        await using (var doomed = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "doomed" }))
        {
            var submitting = Task.WhenAll(Enumerable.Range(0, 8).Select(async submitter =>
            {
                for (var i = submitter; i < jobs; i += 8)
                {
                    var response = await client.PostAsJsonAsync("/api/v1/workflow", new
                    {
                        workflow_name = "hello_transform",
                        input_data = new { name = $"job-{i}" },
                        webhook_url = receiver.HookUrl,
                        webhook_secret = receiver.Secret,
                    }, ct);
                    response.EnsureSuccessStatusCode();
                }
            }));

            // Kill the worker while it is finishing jobs: some finished, others in flight.
            await WorkerCrashTests.WaitUntilAsync(async () => await CountAsync(database, "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed'") >= 20,
                TimeSpan.FromSeconds(60));
            await doomed.KillAsync();
            await submitting;
        }

        await using var survivor = await WorkerHost.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = "survivor" }, ct);
        await WorkerCrashTests.WaitUntilAsync(async () =>
            await CountAsync(database, "SELECT count(*) FROM llm_workflow_jobs WHERE status IN ('completed', 'failed', 'cancelled')") == jobs,
            TimeSpan.FromSeconds(120));

        // Every finished job has exactly one terminal event, with the job's own status; no sweeper ran to add any.
        Assert.Equal(0, await CountAsync(database, """
            SELECT count(*) FROM llm_workflow_jobs j
             WHERE (SELECT count(DISTINCT a.event_id) FROM llm_webhook_attempts a
                     WHERE a.job_id = j.id AND a.event_type = 'workflow.' || j.status) <> 1
            """));
        Assert.Equal(jobs, await CountAsync(database, "SELECT count(DISTINCT job_id) FROM llm_webhook_attempts"));
    }

    private static async Task<long> CountAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Adds a CHECK constraint that rejects event rows for <see cref="RejectedUrl"/>; disposing removes it.</summary>
    private async Task<IAsyncDisposable> RejectEventsAsync()
    {
        await using (var add = _db.Database.CreateCommand(
            $"ALTER TABLE llm_webhook_attempts ADD CONSTRAINT reject_test_hook CHECK (webhook_url <> '{RejectedUrl}')"))
        {
            await add.ExecuteNonQueryAsync();
        }

        return new DropConstraint(_db.Database);
    }

    private sealed class DropConstraint(NpgsqlDataSource database) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using var drop = database.CreateCommand("ALTER TABLE llm_webhook_attempts DROP CONSTRAINT reject_test_hook");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
