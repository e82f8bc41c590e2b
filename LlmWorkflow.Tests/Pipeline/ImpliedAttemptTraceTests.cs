using System.Text.Json;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A job's first run that continues its submit's trace writes no <c>attempt_traces</c> entry (the claim and the finish
/// would each carry it): the row's trace id, worker and start say it. The status shows the same entry, and every
/// statement that changes those columns (a reclaim, a retry) writes the entry out first.
/// </summary>
[IntegrationTest]
public sealed class ImpliedAttemptTraceTests(TestServers servers) : IAsyncLifetime
{
    private const string Submitted = "4bf92f3577b34da6a3ce929d0e0e4736", Other = "0af7651916cd43dd8448eb211c80319c";

    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(ImpliedAttemptTraceTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AFirstRunOnItsSubmitsTraceIsImpliedAndAReclaimWritesItOutBeforeItsOwn()
    {
        var id = await QueuedJobTracedAsync(Submitted);
        Assert.Single(await Claim(id, "worker-a", Submitted));

        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt_traces IS NULL AND attempt = 1 AND worker_id = 'worker-a' AND started_at IS NOT NULL", id));
        // What the statements read as the recorded traces is the entry the claim used to write.
        Assert.Equal(1, await _db.CountAsync(
            $"""
            SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND {JobLifecycleStore.RecordedAttemptTraces("")}
                = jsonb_build_array(jsonb_build_object('attempt', 1, 'trace_id', '{Submitted}', 'worker_id', 'worker-a', 'started_at', started_at))
            """, id));

        await LapseLeaseAsync(id);
        Assert.Single(await Claim(id, "worker-b", Other));
        Assert.Equal(1, await _db.CountAsync(
            $"""
            SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND jsonb_array_length(attempt_traces) = 2
               AND attempt_traces -> 0 ->> 'trace_id' = '{Submitted}' AND attempt_traces -> 0 ->> 'worker_id' = 'worker-a'
               AND (attempt_traces -> 0 ->> 'started_at')::timestamptz = started_at
               AND attempt_traces -> 1 ->> 'trace_id' = '{Other}' AND (attempt_traces -> 1 ->> 'attempt')::int = 2
            """, id));
    }

    [Fact]
    public async Task ARetryWritesTheImpliedEntryOutBeforeItClearsTheStart()
    {
        var id = await QueuedJobTracedAsync(Submitted);
        Assert.Single(await Claim(id, "worker-a", Submitted));
        await _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET status = 'failed', lease_owner = NULL, completed_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);

        Assert.True(await _db.Store.RetryAsync(id, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken));

        Assert.Equal(1, await _db.CountAsync(
            $"SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND started_at IS NULL AND jsonb_array_length(attempt_traces) = 1 AND attempt_traces -> 0 ->> 'trace_id' = '{Submitted}' AND attempt_traces -> 0 ->> 'worker_id' = 'worker-a'", id));
    }

    [Fact]
    public async Task AFirstRunOnAnotherTraceOrNoneIsWrittenAsBefore()
    {
        var traced = await QueuedJobTracedAsync(Submitted);
        var untraced = await QueuedJobTracedAsync(Submitted);
        Assert.Single(await Claim(traced, "worker-a", Other));
        Assert.Single(await _db.Store.ClaimAsync([untraced], "worker-a", TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));

        Assert.Equal(1, await _db.CountAsync(
            $"SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND jsonb_array_length(attempt_traces) = 1 AND attempt_traces -> 0 ->> 'trace_id' = '{Other}'", traced));
        // No trace known: none recorded, and '[]' keeps the row's columns from reading as the submit's trace.
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_workflow_jobs WHERE id = $1 AND attempt_traces = '[]'::jsonb", untraced));
    }

    [Fact]
    public void TheStatusShowsTheImpliedEntryAndTheStoredOnesAsStored()
    {
        var started = new DateTimeOffset(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);
        var implied = new WorkflowJob { Id = Guid.NewGuid(), TraceId = Submitted, WorkerId = "worker-a", StartedAt = started, Attempt = 1 };
        var response = implied.ToStatus([]);
        Assert.Equal([new LlmWorkflow.Contracts.JobAttemptTrace(1, Submitted, "worker-a", started)], response.AttemptTraces);
        Assert.Equal(Submitted, response.TraceId);

        var none = new WorkflowJob { Id = Guid.NewGuid(), TraceId = Submitted, WorkerId = "worker-a", StartedAt = started, AttemptTraces = JsonDocument.Parse("[]") };
        Assert.Empty(none.ToStatus([]).AttemptTraces);
        var queued = new WorkflowJob { Id = Guid.NewGuid(), TraceId = Submitted };
        Assert.Empty(queued.ToStatus([]).AttemptTraces);
    }

    private async Task<Guid> QueuedJobTracedAsync(string traceId)
    {
        var id = await _db.InsertJobAsync(JobStatus.Queued);
        await _db.CountAsync($"WITH u AS (UPDATE llm_workflow_jobs SET trace_id = '{traceId}' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);
        return id;
    }

    private Task<IReadOnlyDictionary<Guid, ClaimedJob>> Claim(Guid id, string worker, string trace) =>
        _db.Store.ClaimAsync([id], worker, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken, new Dictionary<Guid, string> { [id] = trace });

    private Task<long> LapseLeaseAsync(Guid id) =>
        _db.CountAsync("WITH u AS (UPDATE llm_workflow_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);
}
