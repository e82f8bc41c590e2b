using System.Text.Json;
using LlmWorkflow.Engine.Definitions;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Api.Contracts;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// Accepts a workflow run: validates it against the catalog and the workflow's input schema, inserts the job
/// (Postgres is the source of truth) and dispatches its id on the priority stream, both through the
/// <see cref="SubmissionBatcher"/>. If Redis is unavailable the job stays queued in Postgres and the reconciler
/// dispatches it later, so an accepted job is never lost.
/// </summary>
public sealed class JobSubmitter(
    IdempotentSubmissions idempotent,
    SubmissionBatcher submissions,
    WorkflowCatalog catalog,
    LlmWorkflow.Storage.Versions.WorkflowVersions versions,
    TimeProvider time,
    IOptions<WebhookOptions> webhookOptions,
    WebhookSecretProtector secretProtector,
    QueueWaitEstimator waitEstimator,
    WorkflowPauses pauses)
{
    /// <summary>What a submission of this would be refused for (its fields' checks and its workflow's input schema), submitting nothing.</summary>
    public IReadOnlyList<SubmissionProblem> Problems(JobSubmission submission) =>
        catalog.TryGet(submission.WorkflowName, out var workflow)
            ? SubmissionValidator.Validate(submission, workflow, webhookOptions.Value.AllowPrivateNetworks)
            : [new SubmissionProblem("workflow_name", $"Unknown workflow '{submission.WorkflowName}'.")];

    public async Task<SubmissionResult> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken)
    {
        if (!catalog.TryGet(submission.WorkflowName, out var workflow))
        {
            return new SubmissionResult(null, false,
                [new SubmissionProblem("workflow_name", $"Unknown workflow '{submission.WorkflowName}'. Known workflows: {string.Join(", ", catalog.All.Select(w => w.Name))}.")],
                WorkflowNotFound: true);
        }

        if (submission.WebhookUrl is null && !string.IsNullOrEmpty(webhookOptions.Value.DefaultUrl))
        {
            submission = submission with { WebhookUrl = webhookOptions.Value.DefaultUrl };
        }

        var problems = SubmissionValidator.Validate(submission, workflow, webhookOptions.Value.AllowPrivateNetworks);
        if (submission.WebhookUrl is not null && !webhookOptions.Value.CanSign(submission.WebhookSecret))
        {
            // Refused now rather than accepted and silently dead-lettered: unsigned webhooks are never sent.
            problems = [.. problems, new SubmissionProblem("webhook_secret",
                "webhook_url needs a signing secret and this service has none: send webhook_secret, or set LLM_WEBHOOK_SECRET (Webhooks:Secret) on the service.")];
        }

        var concurrencyKey = workflow.Concurrency is null ? null : ConcurrencyKeyInput.KeyOf(submission, workflow, ref problems);
        if (problems.Count > 0)
        {
            return new SubmissionResult(null, false, problems);
        }

        if (submission.IdempotencyKey is not null && await idempotent.FindAsync(submission, cancellationToken) is { } existing)
        {
            return IdempotentSubmissions.Repeat(existing, submission);
        }

        if (submission.RunAt is null && await pauses.IsPausedAsync(workflow.Name, cancellationToken))
        {
            // Its workflow is paused: the job is accepted as a scheduled job due now, which the wakers hold until the
            // resume. (The Submit statement holds it too when this view is a second behind a pause.)
            submission = submission with { RunAt = time.GetUtcNow() };
        }

        // The job is pinned to the catalog's version of its workflow: hashed once per loaded definition, its row
        // stored once per process, so this costs a submission nothing after the first.
        var version = submission.Version ?? versions.Current(workflow);
        await versions.EnsureStoredAsync(version, cancellationToken);

        // Inserted and dispatched together with concurrent submissions (one INSERT and one pipelined XADD per batch).
        var (job, dispatch) = NewJob(submission, workflow);
        job.DefinitionHash = version.Hash;
        job.ConcurrencyKey = concurrencyKey;
        job.ConcurrencyLimit = concurrencyKey is null ? null : workflow.Concurrency!.Limit;
        var accepted = job.ToAccepted(await EstimateWaitSecondsAsync(job, cancellationToken));
        if (submission.IdempotencyKey is not null)
        {
            IdempotentSubmissions.KeepAnswer(job, submission, accepted);
        }

        if (!await submissions.InsertAndDispatchAsync(job, dispatch, cancellationToken))
        {
            // Two requests with the same key raced; the other one won, so answer as it was answered.
            var winner = submission.IdempotencyKey is null ? null : await idempotent.FindAsync(submission, cancellationToken);
            return winner is null
                ? throw new InvalidOperationException($"Job {job.Id} was not inserted and no job holds its idempotency key.")
                : IdempotentSubmissions.Repeat(winner, submission);
        }

        Telemetry.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("workflow", job.WorkflowName));
        return new SubmissionResult(job, Created: true, [], accepted);
    }

    /// <summary>Seconds until a worker is expected to start the job: until its run_at (if any), then the queue's wait.</summary>
    private async Task<int> EstimateWaitSecondsAsync(WorkflowJob job, CancellationToken cancellationToken)
    {
        var untilDue = job.RunAt is { } due ? (int)Math.Ceiling(Math.Max(0, (due - time.GetUtcNow()).TotalSeconds)) : 0;
        return untilDue + await waitEstimator.EstimateSecondsAsync(job.Priority, cancellationToken);
    }

    private (WorkflowJob Job, JobDispatch Dispatch) NewJob(JobSubmission submission, WorkflowDefinition workflow)
    {
        var now = IdempotentRequests.AsStored(time.GetUtcNow());
        var id = Guid.CreateVersion7(now);
        var job = new WorkflowJob
        {
            Id = id,
            CeleryTaskId = id.ToString(),
            WorkflowName = workflow.Name,
            Priority = submission.Priority,
            WebhookUrl = submission.WebhookUrl,
            WebhookSecret = secretProtector.Protect(submission.WebhookSecret),
            WebhookEvents = submission.WebhookEvents?.ToArray(),
            TenantId = submission.TenantId,
            UserId = submission.UserId,
            Username = submission.Username,
            Action = submission.Action,
            Status = submission.RunAt is null ? JobStatus.Queued : JobStatus.Scheduled,
            RunAt = submission.RunAt,
            InputData = JsonSerializer.SerializeToDocument(submission.InputData),
            DebugMode = submission.DebugMode,
            BudgetUsd = submission.BudgetUsd,
            ServiceTier = submission.ServiceTier?.Tier ?? LlmWorkflow.Engine.Llm.ServiceTiers.Standard,
            Deadline = submission.ServiceTier?.Deadline,
            StartBy = submission.TimeToLive is { } ttl ? (submission.RunAt ?? now) + ttl : null,
            IdempotencyKey = submission.IdempotencyKey,
            TraceId = System.Diagnostics.ActivityContext.TryParse(submission.TraceParent, submission.TraceState, out var trace)
                ? trace.TraceId.ToHexString()
                : null,
            QueuedAt = submission.RunAt ?? now,
            DispatchedAt = submission.RunAt is null ? now : null,
            CreatedAt = now,
            UpdatedAt = now,
        };
        return (job, new JobDispatch(job.Id, job.Priority, submission.TraceParent, submission.TraceState));
    }

}

/// <summary>Field-level checks of a submission against its workflow; every problem names its field.</summary>
internal static class SubmissionValidator
{
    public const int MaxUserFieldLength = 255;

    /// <summary>The largest budget the budget_usd column (DECIMAL(10, 6)) holds.</summary>
    public const decimal MaxBudgetUsd = 9999.999999m;

    /// <param name="allowPrivateWebhookHosts">Accept webhook URLs on loopback/private addresses (<c>Webhooks:AllowPrivateNetworks</c>).</param>
    public static IReadOnlyList<SubmissionProblem> Validate(JobSubmission submission, WorkflowDefinition workflow, bool allowPrivateWebhookHosts = false)
    {
        var problems = new List<SubmissionProblem>();

        if (submission.Priority is < PriorityBands.MinPriority or > PriorityBands.MaxPriority)
        {
            problems.Add(new("priority", $"Priority must be between {PriorityBands.MinPriority} and {PriorityBands.MaxPriority} (higher runs first); got {submission.Priority}."));
        }

        CheckLength(problems, "user_id", submission.UserId);
        CheckLength(problems, "username", submission.Username);
        CheckLength(problems, "action", submission.Action);
        CheckLength(problems, "webhook_secret", submission.WebhookSecret);
        CheckLength(problems, "Idempotency-Key", submission.IdempotencyKey);

        if (submission.WebhookUrl is not null && WebhookUrlPolicy.Check(submission.WebhookUrl, allowPrivateWebhookHosts) is { } webhookProblem)
        {
            problems.Add(new("webhook_url", webhookProblem));
        }

        if (submission.WebhookEvents?.Where(name => !WebhookEventTypes.All.Contains(name)).ToList() is { Count: > 0 } unknown)
        {
            problems.Add(new("webhook_events", $"Unknown webhook event {string.Join(", ", unknown.Select(name => $"\"{name}\""))}; the events are {string.Join(", ", WebhookEventTypes.All)}."));
        }

        if (submission.BudgetUsd is < 0 or > MaxBudgetUsd)
        {
            problems.Add(new("budget_usd", $"budget_usd must be between 0 and {MaxBudgetUsd}."));
        }

        if (workflow.InputSchema is { } schema)
        {
            foreach (var problem in InputSchemaValidator.Validate(schema, submission.InputData))
            {
                var field = string.IsNullOrEmpty(problem.Path) || problem.Path == "$"
                    ? "input_data"
                    : "input_data." + problem.Path.TrimStart('$', '.');
                problems.Add(new(field, problem.Message));
            }
        }

        return problems;
    }

    private static void CheckLength(List<SubmissionProblem> problems, string field, string? value)
    {
        if (value is { Length: > MaxUserFieldLength })
        {
            problems.Add(new(field, $"{field} must be at most {MaxUserFieldLength} characters."));
        }
    }
}
