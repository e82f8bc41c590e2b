using System.Text.Json;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Persistence;
using LlmWorkflow.Engine.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Accepts a workflow run: validates it against the catalog and the workflow's input schema, inserts the job
/// (Postgres is the source of truth) and dispatches its id on the priority stream. If Redis is unavailable the job
/// stays queued in Postgres and the reconciler dispatches it later, so an accepted job is never lost.
/// </summary>
public sealed class JobSubmitter(
    LlmWorkflowDbContext db,
    JobQueue queue,
    WorkflowCatalog catalog,
    TimeProvider time,
    IOptions<WebhookOptions> webhookOptions,
    ILogger<JobSubmitter> logger)
{
    public async Task<SubmissionResult> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken)
    {
        if (!catalog.TryGet(submission.WorkflowName, out var workflow))
        {
            return new SubmissionResult(null, false,
                [new SubmissionProblem("workflow_name", $"Unknown workflow '{submission.WorkflowName}'. Known workflows: {string.Join(", ", catalog.All.Select(w => w.Name))}.")],
                WorkflowNotFound: true);
        }

        var problems = SubmissionValidator.Validate(submission, workflow, webhookOptions.Value.AllowPrivateNetworks);
        if (problems.Count > 0)
        {
            return new SubmissionResult(null, false, problems);
        }

        if (submission.IdempotencyKey is not null && await FindByIdempotencyKeyAsync(submission, cancellationToken) is { } existing)
        {
            return new SubmissionResult(existing, Created: false, []);
        }

        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        var job = new WorkflowJob
        {
            Id = id,
            CeleryTaskId = id.ToString(),
            WorkflowName = workflow.Name,
            Priority = submission.Priority,
            WebhookUrl = submission.WebhookUrl,
            WebhookSecret = submission.WebhookSecret,
            WebhookEvents = submission.WebhookEvents?.ToArray(),
            UserId = submission.UserId,
            Username = submission.Username,
            Action = submission.Action,
            Status = JobStatus.Queued,
            InputData = JsonSerializer.SerializeToDocument(submission.InputData),
            DebugMode = submission.DebugMode,
            BudgetUsd = submission.BudgetUsd,
            IdempotencyKey = submission.IdempotencyKey,
            QueuedAt = now,
            DispatchedAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };

        db.Jobs.Add(job);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } && submission.IdempotencyKey is not null)
        {
            // Two requests with the same key raced; the other one won, so answer with its job.
            db.Entry(job).State = EntityState.Detached;
            var winner = await FindByIdempotencyKeyAsync(submission, cancellationToken);
            return new SubmissionResult(winner, Created: false, []);
        }

        try
        {
            await queue.EnqueueAsync(new JobDispatch(job.Id, job.Priority, submission.TraceParent, submission.TraceState), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Job {JobId} is stored but could not be dispatched; the reconciler will dispatch it", job.Id);
        }

        return new SubmissionResult(job, Created: true, []);
    }

    private Task<WorkflowJob?> FindByIdempotencyKeyAsync(JobSubmission submission, CancellationToken cancellationToken) =>
        db.Jobs.AsNoTracking().FirstOrDefaultAsync(
            j => j.IdempotencyKey == submission.IdempotencyKey && j.UserId == submission.UserId,
            cancellationToken);
}
