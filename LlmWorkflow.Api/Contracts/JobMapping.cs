using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;
using LlmWorkflow.Storage.Approvals;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Maps stored rows to API responses; secrets (webhook_secret) are never copied out.</summary>
internal static class JobMapping
{
    public static JobAcceptedResponse ToAccepted(this WorkflowJob job, int estimatedWaitSeconds) => new(
        job.Id, job.Status.ToWire(), job.WorkflowName, job.CreatedAt, StatusUrl(job.Id), estimatedWaitSeconds, job.RunAt)
    {
        CeleryTaskId = job.CeleryTaskId,
    };

    public static string StatusUrl(Guid jobId) => $"/api/v1/status/{jobId}";

    /// <param name="links">Issues an approval wait's decision links; without it <c>waiting_for</c> carries none.</param>
    /// <param name="baseUrl">Where the caller reached the service, for links when <c>Approvals:PublicBaseUrl</c> is not set.</param>
    public static JobStatusResponse ToStatus(this WorkflowJob job, IReadOnlyList<JobStep> steps, ApprovalLinks? links = null, string? baseUrl = null, IReadOnlyList<JobForkSummary>? forks = null) => new()
    {
        JobId = job.Id,
        Status = job.Status.ToWire(),
        WorkflowName = job.WorkflowName,
        UserId = job.UserId,
        Username = job.Username,
        Action = job.Action,
        TenantId = job.TenantId,
        Priority = job.Priority,
        ServiceTier = job.ServiceTier,
        Deadline = job.Deadline,
        StartBy = job.StartBy,
        CreatedAt = job.CreatedAt,
        QueuedAt = job.QueuedAt,
        RunAt = job.RunAt,
        ScheduleId = job.ScheduleId,
        WaitingFor = WaitingFor(job, links, baseUrl),
        StartedAt = job.StartedAt,
        CompletedAt = job.CompletedAt,
        DurationMs = job.DurationMs,
        Progress = new JobProgress(job.CurrentStepId, job.CurrentStepName, job.ProgressPercent),
        CurrentStepId = job.CurrentStepId,
        CurrentStepName = job.CurrentStepName,
        ProgressPercent = job.ProgressPercent,
        InputData = ToNode(job.InputData),
        Result = WithOutputMembers(ToNode(job.ResultData)),
        CeleryTaskId = job.CeleryTaskId,
        Output = (ToNode(job.ResultData) as JsonObject)?["output"],
        Metadata = new JobRunMetadata(job.DurationMs, job.InputTokens, job.OutputTokens, job.TotalTokens, job.CostUsd),
        ErrorMessage = job.ErrorMessage,
        Error = WithAdvice(ToNode(job.ErrorData)),
        Attempt = job.Attempt,
        TraceId = AttemptTraces(job) is [.., var latest] ? latest.TraceId : job.TraceId,
        AttemptTraces = AttemptTraces(job),
        WorkerId = job.WorkerId,
        Steps = steps.Select(ToResponse).ToArray(),
        // previous_attempts is written by SQL (jsonb_build_object) in the wire's snake_case.
        PreviousAttempts = job.PreviousAttempts?.Deserialize(WireJsonContext.Default.JobAttemptSummaryArray) ?? [],
        DefinitionHash = job.DefinitionHash,
        ForkedFrom = job.ForkedFromJobId is { } source ? new JobForkLink(source, job.ForkedFromStep ?? "") : null,
        Forks = forks ?? [],
        CostBreakdown = CostBreakdown(job, steps),
    };

    /// <summary>
    /// The error with <c>advice</c>: one sentence for the operator on what to do about its type (read from the error
    /// taxonomy now, so jobs that failed before an advice was written get it too).
    /// </summary>
    internal static JsonNode? WithAdvice(JsonNode? error)
    {
        if (error is JsonObject body && !body.ContainsKey("advice")
            && LlmWorkflow.Engine.Execution.ErrorSuggestions.AdviceFor(Text(body["type"]), Text(body["category"])) is { } advice)
        {
            body["advice"] = advice;
        }

        return error;

        static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
    }

    /// <summary>
    /// The run attempts' traces (written by SQL, jsonb_build_object, in the wire's snake_case), oldest first. A NULL
    /// column after a run started is the first run continuing the submit's trace, which the claim does not write
    /// (JobLifecycleStore.ClaimedAttemptTraces): its entry is the row's own trace id, worker and start.
    /// </summary>
    private static JobAttemptTrace[] AttemptTraces(WorkflowJob job) =>
        job.AttemptTraces?.Deserialize(WireJsonContext.Default.JobAttemptTraceArray)
        ?? (job is { StartedAt: { } started, TraceId: { } trace, WorkerId: { } worker } ? [new JobAttemptTrace(1, trace, worker, started)] : []);

    /// <summary>
    /// The reused steps are the checkpoints the job's current attempt restored rather than ran: the newest checkpoint of
    /// each step key, when an earlier attempt wrote it (after a retry or a resume) or it was copied from a fork's source.
    /// Only llm steps' rows carry usage (a control-flow step's row would count its nested steps twice).
    /// </summary>
    internal static JobCostBreakdown CostBreakdown(WorkflowJob job, IReadOnlyList<JobStep> steps)
    {
        var reused = steps.Where(s => s.IsCheckpoint)
            .GroupBy(s => s.StepKey, StringComparer.Ordinal)
            .Select(g => g.MaxBy(s => s.JobAttempt)!)
            .Where(s => s.ReusedFromJobId is not null || s.JobAttempt < job.Attempt)
            .OrderBy(s => s.StartedAt)
            .ToList();
        static decimal Cost(IEnumerable<JobStep> rows) => rows.Where(s => s.Model is not null).Sum(s => s.CostUsd ?? 0m);

        // The job's cost_usd counts its earlier attempts' reused checkpoints but not a fork's copies (restored at $0).
        var paid = Math.Max(0m, job.CostUsd - Cost(reused.Where(s => s.ReusedFromJobId is null)));
        return new JobCostBreakdown(paid, Cost(reused), [.. reused.Select(s => new JobReusedStep(
            s.StepKey, s.StepId, s.CostUsd, s.InputTokens, s.OutputTokens, s.ReusedFromJobId ?? job.Id, s.JobAttempt))]);
    }

    /// <summary>
    /// Document 000's result shape added to ours: each member of an object output also beside <c>output</c> and
    /// <c>cost_data</c> (<c>result.contacts</c> as well as <c>result.output.contacts</c>), unless a member of that name is
    /// already there. Additive, so clients that read <c>result.output</c> keep working.
    /// </summary>
    internal static JsonNode? WithOutputMembers(JsonNode? result)
    {
        if (result is JsonObject fields && fields["output"] is JsonObject output)
        {
            foreach (var (name, value) in output)
            {
                fields.TryAdd(name, value?.DeepClone());
            }
        }

        return result;
    }

    /// <summary>What a waiting job waits for, from the wait its Park recorded; null unless it is waiting.</summary>
    public static JobWait? WaitingFor(WorkflowJob job, ApprovalLinks? links, string? baseUrl)
    {
        if (job.Status != JobStatus.Waiting || JobLifecycleStore.ReadWait(job.WaitData?.RootElement.GetRawText()) is not { } wait)
        {
            return null;
        }

        var described = links is null ? new JobWait(wait.StepId, wait.Kind, wait.Until, wait.Event) : WaitDescriptions.Describe(job.Id, wait, links, baseUrl);
        if (wait.Budget is not null)
        {
            // Why it waits, and when it is expected to fit: never a time already past (a due wait is being woken now).
            var now = DateTimeOffset.UtcNow;
            described = described with
            {
                Provider = Engine.Llm.Admission.WaitReasons.Provider(wait), Reason = Engine.Llm.Admission.WaitReasons.Reason(wait),
                Scope = (string?)wait.Budget["scope"], Until = wait.Until > now ? wait.Until : now,
            };
        }

        return wait.Batch is { } batch
            ? described with { Provider = batch["provider"]?.GetValue<string>(), BatchId = batch["batch_id"]?.GetValue<string>() }
            : described;
    }

    /// <summary>The address the caller reached this service at (scheme, host, path base).</summary>
    public static string BaseUrl(Microsoft.AspNetCore.Http.HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}";

    private static JobStepResponse ToResponse(JobStep step) => new(
        step.StepKey, step.StepId, step.DisplayName, step.StepType, step.Status, step.Attempts,
        step.StartedAt, step.FinishedAt, step.DurationMs, step.Model, step.InputTokens, step.OutputTokens,
        step.CostUsd, ToNode(step.Output), ToNode(step.Error), step.Notes, step.JobAttempt, ToNode(step.Input), step.RenderedPrompt,
        step.ParentStepId, step.Branch, step.ReusedFromJobId);

    private static JsonNode? ToNode(System.Text.Json.JsonDocument? document) =>
        document is null ? null : JsonNode.Parse(document.RootElement.GetRawText());
}
