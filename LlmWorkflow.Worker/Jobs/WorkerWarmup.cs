using System.Text.Json.Nodes;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Pipeline;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using Microsoft.Extensions.Options;
using OpenTelemetry;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Before the worker reads its first job (registered before the consumer), pays once what its first jobs would
/// otherwise pay while they run: the JIT of the job path's code that has no ReadyToRun form (generic instantiations
/// over the worker's own types and the SDKs', Npgsql's resolution of each array parameter type of the multi-row
/// statements). Two parts:
/// <list type="bullet">
/// <item>It rehearses an LLM call (<see cref="LlmRehearsal"/>: the engine, gateway, OpenAI SDK, handlers and transport
/// against an answer this process serves on a loopback port; no dependency needed) with instrumentation suppressed and
/// no metric recorded: 500 cold LLM jobs in one worker finished 0.3 s sooner (bench/README.md, "S3: the worker
/// rehearses an LLM call").</item>
/// <item>It runs a job's statements for a job id that is never inserted: the claim, the lease renewal, a step's
/// checkpoint row and the finish, and the finish of a run without a claim with its step row. Every one is guarded by the job's row, so none of them writes anything; no Redis key
/// is touched but a PING, and no span is exported (statements without a parent span are dropped by
/// <c>BackgroundPollingSampler</c>). A cold worker compiled ≈ 700 methods while it ran its first 5,000 jobs, ≈ 300
/// after this (bench/README.md, "The Worker warms its job path").</item>
/// </list>
/// </summary>
internal sealed class WorkerWarmup(JobStore store, IRedisClient redis, IPriceTable prices, IOptions<WorkerOptions> options, ILogger<WorkerWarmup> logger)
    : StartupWarmup(logger, "jobs")
{
    protected override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        using (SuppressInstrumentationScope.Begin())
        using (Telemetry.BeginRehearsal())
        {
            var rehearsal = await LlmRehearsal.RunAsync(prices, cancellationToken);
            if (rehearsal.Status != WorkflowRunStatus.Completed)
            {
                throw new InvalidOperationException($"The LLM rehearsal ended {rehearsal.Status}: {rehearsal.Error?.Message}");
            }
        }

        var worker = options.Value.Id;
        var lease = options.Value.LeaseDuration;
        // A version-7 id, as submitted jobs have, and never inserted: every guarded statement finds no row.
        var jobId = Guid.CreateVersion7();
        await redis.PingAsync(cancellationToken);
        // With a workflow to read without a claim, so both of the claim's branches run.
        await store.ClaimAsync([jobId], worker, lease, cancellationToken, ["warm-up"]);
        await store.RenewLeasesAsync([jobId], worker, lease, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var step = new StepRecord
        {
            StepKey = "warm-up", StepId = "warm-up", DisplayName = "Warm-up", Type = "transform", Status = StepStatus.Completed,
            Attempts = 1, StartedAt = now, FinishedAt = now, Output = JsonValue.Create("warm"),
        };
        await store.WriteStepAsync(jobId, [JobStore.StepStatement(jobId, 1, step, step.Output, isCheckpoint: true)], cancellationToken);
        var outcome = new JobOutcome(JobStatus.Completed, new JsonObject { ["output"] = "warm" }, null, 0, 0, 0m);
        await store.FinishAsync(jobId, worker, outcome, cancellationToken, attempt: 1);
        var unclaimed = new ClaimedJob(jobId, "warm-up", null, 1, null, null, null, null, false, 0, false, [], Leased: false, StartedAt: now);
        await store.FinishUnclaimedAsync(unclaimed, worker, outcome,
            [JobStore.StepStatement(jobId, 1, step, step.Output, isCheckpoint: true, leased: false)], cancellationToken);
    }
}
