using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Worker.Jobs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The row of a step that costs nothing to run again (a transform, a control-flow step) waits for the run's next write
/// (<see cref="PostgresCheckpointStore"/>), on a real PostgreSQL: it commits in the finish's transaction or in the next
/// paid step's (the same <c>xmin</c>), it is written alone when nothing follows in time, and a run that is handed back
/// never writes it late. Rows of steps that call out are written at once.
/// </summary>
public sealed class DeferredStepRowsTests(TestServers servers) : IAsyncLifetime
{
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);
    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(DeferredStepRowsTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task ATransformsRowCommitsInTheFinishsTransaction()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        var store = Checkpoints(id, deferFor: Never);

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        Assert.Equal(0, await StepRowsAsync(id));

        var rows = await store.TakeDeferredAsync();
        Assert.True(await _db.Store.FinishAsync(id, "worker-a", Completed(), CancellationToken.None, attempt: 1, rows));

        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1 AND step_key = 'shape' AND is_checkpoint AND output ->> 'v' = 'shape'", id));
        Assert.Equal(1, await TransactionsAsync(id));
    }

    [Fact]
    public async Task ADeferredRowGoesFirstInTheNextPaidStepsWrite()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        var store = Checkpoints(id, deferFor: Never);

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        store.AddUsage("answer", "answer", new LlmCallResult { Text = "hi", Provider = "openai", Model = "openai/gpt-4o-mini", InputTokens = 5, OutputTokens = 2 });
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
        var store = Checkpoints(id, deferFor: TimeSpan.FromMilliseconds(50));

        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);

        await WaitForStepRowsAsync(id, 1);
        Assert.Empty(await store.TakeDeferredAsync());
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
    }

    [Fact]
    public async Task TheDeferredRowsOfARunThatIsHandedBackAreNeverWritten()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        var store = Checkpoints(id, deferFor: TimeSpan.FromMilliseconds(50));

        await store.SaveAsync(id.ToString(), Checkpoint("dropped", "transform"), CancellationToken.None);
        await store.DiscardDeferredAsync();
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
    public async Task RowsOfStepsThatCallOutAndRowsOfJobsThatWantStepEventsAreWrittenAtOnce(string stepType, bool deferFreeSteps)
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing);
        var store = Checkpoints(id, deferFor: Never, deferFreeSteps);

        await store.SaveAsync(id.ToString(), Checkpoint("step", stepType), CancellationToken.None);

        Assert.Equal(1, await StepRowsAsync(id));
        Assert.Empty(await store.TakeDeferredAsync());
    }

    [Fact]
    public async Task ADeferredRowOfAnAttemptThatWasTakenOverIsRefusedWithTheFinish()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        var store = Checkpoints(id, deferFor: Never);
        await store.SaveAsync(id.ToString(), Checkpoint("shape", "transform"), CancellationToken.None);
        // Another worker reclaims the job: attempt 2 owns it now.
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));

        Assert.False(await _db.Store.FinishAsync(id, "worker-a", Completed(), CancellationToken.None, attempt: 1, await store.TakeDeferredAsync()));

        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));
        Assert.Equal(0, await StepRowsAsync(id));
    }

    private PostgresCheckpointStore Checkpoints(Guid id, TimeSpan deferFor, bool deferFreeSteps = true) => new(
        _db.Store,
        new ClaimedJob(id, "hello_transform", new JsonObject(), 1, null, null, null, null, false, 5, false, []),
        new RunPersistenceFaults(),
        new HeldWrites(Options.Create(new WorkerOptions()), TimeProvider.System, NullLogger<HeldWrites>.Instance),
        () => throw new InvalidOperationException("The lease was not expected to be lost."),
        deferFreeSteps,
        deferFor);

    private Task<long> StepRowsAsync(Guid id) => _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id);

    /// <summary>How many transactions wrote the job row and its step rows.</summary>
    private Task<long> TransactionsAsync(Guid id) => _db.CountAsync(
        "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM llm_workflow_jobs WHERE id = $1 UNION ALL SELECT xmin::text FROM llm_job_steps WHERE job_id = $1) t",
        id);

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
