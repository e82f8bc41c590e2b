using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Before the worker reads its first job (hosted services start in order, and this one is registered before the
/// consumer), pays once what its first jobs would otherwise pay while they run: the JIT of the job path's code that
/// has no ReadyToRun form (generic instantiations over the worker's own types, Npgsql's resolution of each array
/// parameter type of the multi-row statements). It runs the job's statements for a job id that is never inserted: the
/// claim, the lease renewal, a step's checkpoint row and the finish. Every one is guarded by the job's row, so none of
/// them writes anything; no Redis key is touched but a PING, and no span is exported (statements without a parent span
/// are dropped by <c>BackgroundPollingSampler</c>).
/// Measured: a cold worker compiled ≈ 700 methods while it ran its first 5,000 jobs, ≈ 300 after this (bench/README.md,
/// "The Worker warms its job path"). Best effort and bounded: a dependency that is down at start delays the worker by
/// at most <see cref="Limit"/> and fails nothing.
/// </summary>
internal sealed partial class WorkerWarmup(
    JobStore store,
    IRedisClient redis,
    IOptions<WorkerOptions> options,
    ILogger<WorkerWarmup> logger) : IHostedService
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        var started = TimeProvider.System.GetTimestamp();
        var worker = options.Value.Id;
        var lease = options.Value.LeaseDuration;
        // A version-7 id, as submitted jobs have, and never inserted: every guarded statement finds no row.
        var jobId = Guid.CreateVersion7();
        try
        {
            await redis.PingAsync(limit.Token);
            await store.ClaimAsync([jobId], worker, lease, limit.Token);
            await store.RenewLeasesAsync([jobId], worker, lease, limit.Token);
            var now = DateTimeOffset.UtcNow;
            var step = new StepRecord
            {
                StepKey = "warm-up", StepId = "warm-up", DisplayName = "Warm-up", Type = "transform", Status = StepStatus.Completed,
                Attempts = 1, StartedAt = now, FinishedAt = now, Output = JsonValue.Create("warm"),
            };
            await store.WriteStepAsync([JobStore.StepStatement(jobId, 1, step, step.Output, isCheckpoint: true)], limit.Token);
            var outcome = new JobOutcome(JobStatus.Completed, new JsonObject { ["output"] = "warm" }, null, 0, 0, 0m);
            await store.FinishAsync(jobId, worker, outcome, limit.Token, attempt: 1);
            LogWarm(TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogNotWarm(ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm for the first jobs in {Milliseconds:F0} ms")]
    private partial void LogWarm(double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm-up incomplete (a dependency is not reachable yet); the first jobs will pay for it")]
    private partial void LogNotWarm(Exception ex);
}
