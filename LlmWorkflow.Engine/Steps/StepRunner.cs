using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// Runs steps: checkpoint lookup, progress events, per-step timeout, the on_error policy (retry with backoff,
/// continue, default) and the step record. Control-flow handlers call back into it for their nested blocks.
/// </summary>
internal sealed partial class StepRunner(IReadOnlyDictionary<string, IStepHandler> handlers)
{
    /// <summary>Runs a list of steps in order and returns the last one's output.</summary>
    public async Task<JsonNode?> RunBlockAsync(IReadOnlyList<StepDefinition> steps, ExecutionFrame frame, RunState run, CancellationToken cancellationToken)
    {
        JsonNode? last = null;
        for (var i = 0; i < steps.Count; i++)
        {
            last = await RunStepAsync(steps[i], frame, run, frame.TopLevelIndex ?? i, cancellationToken);
        }

        return last;
    }

    /// <summary>Runs one step; a failure that its on_error does not absorb is rethrown as <see cref="WorkflowException"/>.</summary>
    public async Task<JsonNode?> RunStepAsync(StepDefinition step, ExecutionFrame frame, RunState run, int topLevelIndex, CancellationToken cancellationToken)
    {
        var handler = handlers.GetValueOrDefault(step.Type)
            ?? throw WorkflowException.Config("unknown_step_type", $"Step \"{step.Id}\" has unknown type \"{step.Type}\".");
        var stepKey = frame.KeyPrefix + step.Id;
        var isTopLevel = frame.TopLevelIndex is null;

        if (handler.IsCheckpointed && run.Checkpoints is { } store
            && await store.TryGetAsync(run.RunId, stepKey, cancellationToken) is { } checkpoint)
        {
            Telemetry.CheckpointResumptions.Add(1, new KeyValuePair<string, object?>("workflow", run.Workflow.Name));
            return await RestoreAsync(checkpoint, step, frame, run, topLevelIndex, isTopLevel, cancellationToken);
        }

        using var span = StartSpan(step, stepKey, run);
        try
        {
            return await RunStartedStepAsync(step, handler, stepKey, isTopLevel, frame, run, topLevelIndex, span, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            span?.SetTag("llmworkflow.step.status", "cancelled");
            throw;
        }
    }

    /// <summary>A span per step run (nested steps and LLM calls become its children); checkpointed steps get none.</summary>
    private static Activity? StartSpan(StepDefinition step, string stepKey, RunState run)
    {
        var span = Telemetry.ActivitySource.StartActivity("step " + step.Id);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("llmworkflow.workflow", run.Workflow.Name);
            span.SetTag("llmworkflow.job_id", run.RunId);
            span.SetTag("llmworkflow.step.id", step.Id);
            span.SetTag("llmworkflow.step.key", stepKey);
            span.SetTag("llmworkflow.step.type", step.Type);
        }

        return span;
    }

    private async Task<JsonNode?> RunStartedStepAsync(
        StepDefinition step, IStepHandler handler, string stepKey, bool isTopLevel, ExecutionFrame frame, RunState run, int topLevelIndex,
        Activity? span, CancellationToken cancellationToken)
    {
        await run.Progress.PublishAsync(
            new StepStarted(run.RunId, run.Now, step.Id, stepKey, step.Label, step.Type, topLevelIndex, run.TotalTopLevelSteps, run.Percent(topLevelIndex), frame.ParentStepId),
            cancellationToken);

        var startedAt = run.Now;
        var startedTimestamp = run.Time.GetTimestamp();
        var policy = step.OnError ?? OnErrorPolicy.Fail;
        var usage = new StepLlmUsage();
        var tried = await AttemptAsync(step, handler, stepKey, frame, run, topLevelIndex, policy, usage, cancellationToken);

        // Answers go to PostgreSQL as they are: a NUL (or lone surrogate) would fail every write of them, so they are
        // cleaned here, once, and the record says so.
        var output = StorableJson.Clean(tried.Output, out var cleanedCharacters);
        var status = tried.Error is null ? StepStatus.Completed : OutcomeOf(policy, tried.Error);
        output = status switch
        {
            StepStatus.Completed => output,
            StepStatus.Defaulted => policy.Value?.DeepClone(),
            _ => null,
        };

        var record = new StepRecord
        {
            StepKey = stepKey,
            StepId = step.Id,
            DisplayName = step.Label,
            Type = step.Type,
            Status = status,
            Attempts = tried.Count,
            StartedAt = startedAt,
            FinishedAt = run.Now,
            DurationMs = run.Time.GetElapsedTime(startedTimestamp).TotalMilliseconds,
            Output = StepOutputCap.Apply(output),
            Error = tried.Error,
            Input = StepInputCapture.Input(tried.Context.Input),
            RenderedPrompt = StepInputCapture.Prompt(tried.Context.RenderedPrompt),
            ParentStepId = frame.ParentStepId,
            Branch = frame.Branch,
            InputTokens = usage.LastCall is null ? null : usage.InputTokens,
            OutputTokens = usage.LastCall is null ? null : usage.OutputTokens,
            CostUsd = usage.CostUsd,
            Provider = usage.LastCall?.Provider,
            Model = usage.LastCall?.Model,
            Notes = Notes(cleanedCharacters, usage.InvalidUtf8Replaced),
        };

        if (status != StepStatus.Failed && handler.IsCheckpointed && run.Checkpoints is { } checkpoints)
        {
            var endsRun = isTopLevel && topLevelIndex == run.TotalTopLevelSteps - 1;
            record = await CheckpointAsync(checkpoints, run, new StepCheckpoint(stepKey, output, record) { EndsRun = endsRun }, cancellationToken);
        }

        return await FinishAsync(record, output, step, frame, run, isTopLevel, topLevelIndex, span, cancellationToken);
    }

    /// <summary>What a step's attempts came to: the last one's output or error, how many ran, and its context.</summary>
    private sealed record Attempts(JsonNode? Output, WorkflowError? Error, int Count, StepContext Context);

    /// <summary>Runs the handler until it succeeds, its error is not worth retrying, or on_error's attempts run out.</summary>
    private async Task<Attempts> AttemptAsync(
        StepDefinition step, IStepHandler handler, string stepKey, ExecutionFrame frame, RunState run, int topLevelIndex,
        OnErrorPolicy policy, StepLlmUsage usage, CancellationToken cancellationToken)
    {
        var scope = frame.CreateScope(run);
        for (var attempt = 1; ; attempt++)
        {
            var context = new StepContext
            {
                Step = step,
                StepKey = stepKey,
                Frame = frame,
                Scope = scope,
                Run = run,
                Runner = this,
                TopLevelIndex = topLevelIndex,
                LlmUsage = usage,
            };
            WorkflowError error;
            try
            {
                return new Attempts(await ExecuteWithTimeoutAsync(handler, context, cancellationToken), null, attempt, context);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (RunParkedException)
            {
                // Not a failure: the run stops here and resumes when the wait is over (no retry, no on_error).
                throw;
            }
            catch (Exception ex)
            {
                error = Classify(ex, step);
            }

            if (attempt >= policy.EffectiveMaxAttempts || !IsWorthRetrying(error))
            {
                return new Attempts(null, error, attempt, context);
            }

            await Task.Delay(policy.BackoffBefore(attempt + 1), run.Time, cancellationToken);
        }
    }

    /// <summary>
    /// Saves the step's checkpoint and returns its record. A checkpoint that cannot be written fails the step with its
    /// cause instead of crashing the run (a crashed run is reclaimed and its paid calls made again). A lost database
    /// connection is told apart by the job's persistence-fault record, which requeues the job instead of failing it.
    /// </summary>
    private static async Task<StepRecord> CheckpointAsync(ICheckpointStore checkpoints, RunState run, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        try
        {
            await checkpoints.SaveAsync(run.RunId, checkpoint, cancellationToken);
            return checkpoint.Record;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return NotStored(checkpoint.Record, ex);
        }
    }

    /// <summary>Records the finished step (run, metrics, span, outputs, progress) and returns its output, or throws its error when it failed.</summary>
    private static async Task<JsonNode?> FinishAsync(
        StepRecord record, JsonNode? output, StepDefinition step, ExecutionFrame frame, RunState run, bool isTopLevel, int topLevelIndex,
        Activity? span, CancellationToken cancellationToken)
    {
        run.AddRecord(record);
        var statusName = record.Status.ToWire();
        Telemetry.StepDuration.Record(record.DurationMs / 1000.0,
            new KeyValuePair<string, object?>("workflow", run.Workflow.Name),
            new KeyValuePair<string, object?>("step_type", step.Type),
            new KeyValuePair<string, object?>("status", statusName));

        span?.SetTag("llmworkflow.step.status", statusName);
        span?.SetTag("llmworkflow.step.attempts", record.Attempts);
        if (record.Error is { } error)
        {
            span.RecordFailure(error.Type, error.Message);
        }

        if (record.Status != StepStatus.Failed)
        {
            frame.Outputs.Set(step.Id, output);
        }

        await run.Progress.PublishAsync(
            new StepCompleted(run.RunId, run.Now, record, run.Percent(isTopLevel ? topLevelIndex + 1 : topLevelIndex)),
            cancellationToken);

        return record.Status == StepStatus.Failed ? throw new WorkflowException(record.Error!) : output;
    }

    /// <summary>What was changed in the step's answer so that it could be read and stored, or null.</summary>
    private static string? Notes(int cleanedCharacters, int invalidUtf8Bytes)
    {
        var utf8 = invalidUtf8Bytes > 0
            ? $"The LLM answer held {invalidUtf8Bytes} byte sequence(s) that are not valid UTF-8 (each replaced by U+FFFD)."
            : null;
        var cleaned = cleanedCharacters > 0
            ? $"The output held {cleanedCharacters} character(s) that cannot be stored (U+0000 removed, lone surrogates replaced by U+FFFD)."
            : null;
        return utf8 is null ? cleaned : cleaned is null ? utf8 : utf8 + " " + cleaned;
    }

    /// <summary>The handler's run; within the step's <c>timeout_seconds</c> when it has one (no state machine of its own when not).</summary>
    private static ValueTask<JsonNode?> ExecuteWithTimeoutAsync(IStepHandler handler, StepContext context, CancellationToken cancellationToken) =>
        context.Step.TimeoutSeconds is { } seconds
            ? ExecuteWithinAsync(handler, context, seconds, cancellationToken)
            : handler.ExecuteAsync(context, cancellationToken);

    private static async ValueTask<JsonNode?> ExecuteWithinAsync(IStepHandler handler, StepContext context, double seconds, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds), context.Run.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await handler.ExecuteAsync(context, linked.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(context.Step, seconds);
        }
    }
}
