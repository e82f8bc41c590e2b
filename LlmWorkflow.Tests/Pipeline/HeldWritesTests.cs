using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The bounds of a held result and the fencing between a run holding one and a worker that took the job over, on a
/// real PostgreSQL (and, for the bounds, a real refused connection).
/// </summary>
[IntegrationTest]
public sealed class HeldWritesTests(TestServers servers) : IAsyncLifetime
{
    private LifecycleDatabase _db = null!;

    public async ValueTask InitializeAsync() =>
        _db = await LifecycleDatabase.CreateAsync(servers, nameof(HeldWritesTests), TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task AResultHeldLongerThanHoldWritesForIsGivenUpWithAnErrorNamingTheSetting()
    {
        var held = Held(new WorkerOptions { HoldWritesFor = TimeSpan.FromSeconds(1) });
        await using var unreachable = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={PortAllocator.GetFreePort()};Username=x;Pooling=false;Timeout=2");

        var error = await Assert.ThrowsAsync<WriteHoldExceededException>(() =>
            held.WriteAsync(() => unreachable.CreateCommand("SELECT 1").ExecuteScalarAsync(), 100, "step \"answer\" of job j"));

        Assert.Contains("Worker:HoldWritesFor", error.Message, StringComparison.Ordinal);
        Assert.Contains("step \"answer\" of job j was not stored", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(error.InnerException);
        Assert.Equal(0, held.Count);
        Assert.Equal(0, held.Bytes);
    }

    [Fact]
    public async Task AResultBeyondTheMemoryBoundIsNotHeld()
    {
        var held = Held(new WorkerOptions { HoldWritesMaxBytes = 1_000 });
        await using var unreachable = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={PortAllocator.GetFreePort()};Username=x;Pooling=false;Timeout=2");
        var attempts = 0;

        var error = await Assert.ThrowsAsync<WriteHoldExceededException>(() =>
            held.WriteAsync(() => { attempts++; return unreachable.CreateCommand("SELECT 1").ExecuteScalarAsync(); }, 10_000, "step \"big\" of job j"));

        Assert.Contains("Worker:HoldWritesMaxBytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, attempts);
        Assert.Equal(0, held.Count);
    }

    [Fact]
    public async Task AHeldResultOfAnAttemptThatWasTakenOverIsRefusedTheRunStopsAndTheCallIsStillRecorded()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        using var holder = Checkpoints(id, attempt: 1);
        holder.AddUsage("answer", "answer", Call());

        // The job was reclaimed (attempt 2) before the held result reached PostgreSQL.
        Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None));
        await Assert.ThrowsAsync<OperationCanceledException>(async () =>
            await holder.SaveAsync(id.ToString(), Checkpoint(), CancellationToken.None));

        Assert.True(holder.TakenOver);
        Assert.True(holder.Stop.IsCancellationRequested);
        Assert.Equal(0, await _db.CountAsync("SELECT count(*) FROM llm_job_steps WHERE job_id = $1", id));
        Assert.Equal(1, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", id));
    }

    [Fact]
    public async Task AHeldResultWrittenBeforeTheTakeOverIsTheNewOwnersCheckpointAndIsRecordedOnce()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        using var holder = Checkpoints(id, attempt: 1);
        holder.AddUsage("answer", "answer", Call());
        await holder.SaveAsync(id.ToString(), Checkpoint(), CancellationToken.None);
        Assert.False(holder.TakenOver);
        // A usage row written twice (as after a commit whose acknowledgement was lost) is still one row.
        var again = JobLifecycleStore.UsageStatement(Guid.CreateVersion7(), id, "other", "hello_transform", Call());
        await _db.Run.WriteStepAsync(id, [again], CancellationToken.None);
        await _db.Run.WriteStepAsync(id, [again], CancellationToken.None);

        var claimed = Assert.Single(await _db.Store.ClaimAsync([id], "worker-b", TimeSpan.FromSeconds(30), CancellationToken.None)).Value;
        using var newOwner = Checkpoints(id, claimed.Attempt);
        var restored = await newOwner.TryGetAsync(id.ToString(), "answer", CancellationToken.None);

        Assert.Equal("held", (string?)restored!.Output!["text"]);
        Assert.Equal(2, await _db.CountAsync("SELECT count(*) FROM llm_provider_usage WHERE job_id = $1", id));
    }

    [Fact]
    public async Task AnAttemptTakenOverByTheSameWorkerCanNeitherFinishNorReleaseTheJob()
    {
        var id = await _db.InsertJobAsync(JobStatus.Processing, leaseLapsed: true);
        // The same worker reclaims its own job after a stall longer than the lease: attempt 2 is the owner now.
        var claimed = Assert.Single(await _db.Store.ClaimAsync([id], "worker-a", TimeSpan.FromSeconds(30), CancellationToken.None)).Value;
        var outcome = new JobOutcome(JobStatus.Cancelled, null, null, 0, 0, 0m);

        Assert.False(await _db.Run.FinishAsync(id, "worker-a", outcome, CancellationToken.None, attempt: 1));
        await _db.Run.ReleaseAsync(id, "worker-a", CancellationToken.None, attempt: 1);
        Assert.Equal(JobStatus.Processing, await _db.StatusAsync(id));

        Assert.True(await _db.Run.FinishAsync(id, "worker-a", outcome with { Status = JobStatus.Completed }, CancellationToken.None, claimed.Attempt));
        Assert.Equal(JobStatus.Completed, await _db.StatusAsync(id));
    }

    /// <summary>A worker's run of the job (its checkpoints and held writes) as <c>worker-a</c>'s attempt <paramref name="attempt"/>.</summary>
    private JobRun Checkpoints(Guid id, int attempt) => new(
        _db.Run,
        _db.Get<LiveEventPublisher>(),
        new ClaimedJob(id, "hello_transform", new JsonObject(), attempt, null, null, null, null, false, 5, false, []),
        "worker-a",
        CancellationToken.None);

    private static HeldWrites Held(WorkerOptions options) => new(Options.Create(options), TimeProvider.System, NullLogger<HeldWrites>.Instance);

    private static StepCheckpoint Checkpoint() => new("answer", new JsonObject { ["text"] = "held" }, new StepRecord
    {
        StepKey = "answer",
        StepId = "answer",
        DisplayName = "Answer",
        Type = "llm",
        Status = StepStatus.Completed,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        FinishedAt = DateTimeOffset.UtcNow,
    });

    private static LlmCallResult Call() => new() { Text = "held", Provider = "openai", Model = "openai/gpt-4o-mini", InputTokens = 5, OutputTokens = 2 };
}
