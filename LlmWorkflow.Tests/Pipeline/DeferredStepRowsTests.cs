using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The row of a step that costs nothing to run again (a transform, a control-flow step) waits for the run's next write
/// (<see cref="JobRun"/>), on a real PostgreSQL: it commits in the finish's transaction or in the next
/// paid step's (the same <c>xmin</c>), it is written alone when nothing follows in time, and a run that is handed back
/// never writes it late. Rows of steps that call out are written at once.
/// </summary>
[IntegrationTest]
public sealed class DeferredStepRowsTests(ClassLifecycleDatabase database) : IClassFixture<ClassLifecycleDatabase>
{
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);

    // One database for the class: every test inserts its own job and reads only that job's rows.
    private readonly LifecycleDatabase _db = database.Database;

    [Fact]
    public async Task ATransformsRowCommitsInTheFinishsTransaction()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: Never);

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        Assert.Equal(0, await StepRowsAsync(id));

        var rows = await store.TakeDeferredAsync();
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", Completed(), CancellationToken.None, attempt: 1, rows));

        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'shape' AND is_checkpoint AND output ->> 'v' = 'shape'", id));
        Assert.Equal(1, await TransactionsAsync(id));
    }

    [Fact]
    public async Task ADeferredRowGoesFirstInTheNextPaidStepsWrite()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: Never);

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        store.AddUsage("answer", "answer", Call());
        await store.SaveAsync(id.ToString(), Checkpoint("answer", "llm"), CancellationToken.None);

        Assert.Equal(2, await StepRowsAsync(id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", id));
        Assert.Equal(1, await _db.CountAsync(
            "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM llm_job_steps WHERE job_id = $1 UNION ALL SELECT xmin::text FROM llm_provider_usage WHERE job_id = $1) t",
            id));
        Assert.Empty(await store.TakeDeferredAsync());
    }

    [Fact]
    public async Task ADeferredRowIsWrittenAloneWhenTheRunWritesNothingElseInTime()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: TimeSpan.FromMilliseconds(50));

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);

        await WaitForStepRowsAsync(id, 1);
        Assert.Empty(await store.TakeDeferredAsync());
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
    }

    [Fact]
    public async Task TheDeferredRowsOfARunThatIsHandedBackAreNeverWritten()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: TimeSpan.FromMilliseconds(50));

        await store.SaveAsync(id.ToString(), Checkpoint("dropped", "transform"), CancellationToken.None);
        await store.EndWithoutFinishAsync();
        Assert.Empty(await store.TakeDeferredAsync());

        // A row deferred after the discard is written alone once its own delay has passed, which is after the discarded
        // row's delay: by then the discarded row would have been written too.
        await store.SaveAsync(id.ToString(), Checkpoint("kept", "transform"), CancellationToken.None);
        await WaitForStepRowsAsync(id, 1);
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'kept'", id));
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'dropped'", id));
    }

    [Theory]
    [InlineData("external_api", true)]
    [InlineData("llm", true)]
    [InlineData("transform", false)]
    public async Task RowsOfStepsThatCallOutAndRowsOfJobsThatWantStepEventsAreWrittenAtOnce(string stepType, bool deferStepRows)
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: Never, deferStepRows);

        await store.SaveAsync(id.ToString(), Checkpoint("step", stepType), CancellationToken.None);
        // A job that wants step events gets even its last step's row at once.
        await store.SaveAsync(id.ToString(), Checkpoint("last", stepType) with { EndsRun = !deferStepRows }, CancellationToken.None);

        Assert.Equal(2, await StepRowsAsync(id));
        Assert.False(store.HoldsLastPaidStep);
        Assert.Empty(await store.TakeDeferredAsync());
    }

    [Theory]
    [InlineData("llm")]
    [InlineData("external_api")]
    public async Task TheLastStepsCheckpointAndUsageCommitInTheFinishsTransactionAfterTheDeferredRows(string stepType)
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: Never);

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        store.AddUsage("answer", "answer", Call());
        await store.SaveAsync(id.ToString(), Checkpoint("answer", stepType) with { EndsRun = true }, CancellationToken.None);
        Assert.Equal(0, await StepRowsAsync(id));
        Assert.Equal(0, await UsageRowsAsync(id));
        Assert.True(store.HoldsLastPaidStep);

        var rows = await store.TakeDeferredAsync();
        Assert.False(store.HoldsLastPaidStep);
        Assert.Equal(3, rows.Count);
        Assert.True(await _db.Run.FinishAsync(id, "worker-a", Completed(), CancellationToken.None, attempt: 1, rows));

        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'answer' AND is_checkpoint AND output ->> 'v' = 'answer'", id));
        Assert.Equal(1, await UsageRowsAsync(id));
        Assert.Equal(1, await TransactionsAsync(id, withUsage: true));
    }

    [Fact]
    public async Task ALastPaidStepOfARunThatIsHandedBackIsWrittenSoTheResumedRunSkipsTheCall()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        using var store = Checkpoints(id, deferFor: Never);
        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        store.AddUsage("answer", "answer", Call());
        await store.SaveAsync(id.ToString(), Checkpoint("answer", "llm") with { EndsRun = true }, CancellationToken.None);

        await store.EndWithoutFinishAsync();

        Assert.False(store.HoldsLastPaidStep);
        Assert.Empty(await store.TakeDeferredAsync());
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'shape'", id));
        Assert.Equal(1, await UsageRowsAsync(id));
        // The job is handed back and claimed again: the new attempt finds the answer and does not buy it again.
        await _db.Run.ReleaseAsync(id, "worker-a", CancellationToken.None, attempt: 1);
        var claimed = Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None)).Value;
        using var resumed = Checkpoints(id, deferFor: Never, attempt: claimed.Attempt);
        var restored = await resumed.TryGetAsync(id.ToString(), "answer", CancellationToken.None);
        Assert.Equal("answer", (string?)restored!.Output!["v"]);
        Assert.Null(await resumed.TryGetAsync(id.ToString(), "shape", CancellationToken.None));
    }

    [Fact]
    public async Task ALastPaidStepOfAnAttemptThatWasTakenOverIsRefusedButItsCallIsStillRecorded()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        using var store = Checkpoints(id, deferFor: Never);
        store.AddUsage("answer", "answer", Call());
        await store.SaveAsync(id.ToString(), Checkpoint("answer", "llm") with { EndsRun = true }, CancellationToken.None);
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));

        await store.EndWithoutFinishAsync();

        Assert.Equal(0, await StepRowsAsync(id));
        Assert.Equal(1, await UsageRowsAsync(id));
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
    }

    [Fact]
    public async Task ADeferredRowOfAnAttemptThatWasTakenOverIsRefusedWithTheFinish()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        using var store = Checkpoints(id, deferFor: Never);
        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        // Another worker reclaims the job: attempt 2 owns it now.
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));

        Assert.False(await _db.Run.FinishAsync(id, "worker-a", Completed(), CancellationToken.None, attempt: 1, await store.TakeDeferredAsync()));

        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
        Assert.Equal(0, await StepRowsAsync(id));
    }

    private JobRun Checkpoints(Guid id, TimeSpan deferFor, bool deferStepRows = true, int attempt = 1) => new(
        _db.Run,
        _db.Get<LiveEventPublisher>(),
        new ClaimedJob(id, "hello_transform", new JsonObject(), attempt, null, null, null, null, false, 5, false, []),
        "worker-a",
        CancellationToken.None,
        deferStepRows,
        deferFor);

    private Task<long> StepRowsAsync(Guid id) => _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id);

    private Task<long> UsageRowsAsync(Guid id) => _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", id);

    /// <summary>How many transactions wrote the job row and its step rows (and its usage rows).</summary>
    private Task<long> TransactionsAsync(Guid id, bool withUsage = false) => _db.CountAsync(
        "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM llm_workflow_jobs WHERE id = $1 UNION ALL SELECT xmin::text FROM llm_job_steps WHERE job_id = $1" +
        (withUsage ? " UNION ALL SELECT xmin::text FROM llm_provider_usage WHERE job_id = $1" : "") + ") t",
        id);

    private static LlmCallResult Call() =>
        new() { Text = "hi", Provider = "openai", Model = "openai/gpt-4o-mini", InputTokens = 5, OutputTokens = 2 };

    private async Task WaitForStepRowsAsync(Guid id, long expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await StepRowsAsync(id) < expected)
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    private static JobOutcome Completed() => new(JobStatus.Completed, new JsonObject { ["output"] = new JsonObject() }, null, 0, 0, 0m);

    private static StepCheckpoint Checkpoint(string key, string type) => new(key, new JsonObject { ["v"] = key }, new StepRecord
    {
        StepKey = key,
        StepId = key,
        DisplayName = key,
        Type = type,
        Status = StepStatus.Completed,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        FinishedAt = DateTimeOffset.UtcNow,
    });
}
