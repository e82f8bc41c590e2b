using System.Text.Json;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Persistence;
using LlmWorkflow.Engine.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Engine.Jobs;

/// <summary>
/// Accepts a workflow run: validates it against the catalog and the workflow's input schema, inserts the job
/// (Postgres is the source of truth) and dispatches its id on the priority stream. If Redis is unavailable the job
/// stays queued in Postgres and the reconciler dispatches it later, so an accepted job is never lost.
/// </summary>
public sealed class JobSubmitter(
    LlmWorkflowDbContext db,
    NpgsqlDataSource dataSource,
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

        try
        {
            await InsertAsync(job, cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && submission.IdempotencyKey is not null)
        {
            // Two requests with the same key raced; the other one won, so answer with its job.
            var winner = await FindByIdempotencyKeyAsync(submission, cancellationToken);
            return new SubmissionResult(winner, Created: false, []);
        }

        Telemetry.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("workflow", job.WorkflowName));
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

    /// <summary>The submit hot path's one INSERT, as plain SQL (EF change tracking costs more than the statement).</summary>
    private async Task InsertAsync(WorkflowJob job, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                           user_id, username, action, status, input_data, debug_mode, budget_usd, idempotency_key,
                                           queued_at, dispatched_at, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13, $14, $15, $15, $15, $15)
            """);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = job.Id });
        p.Add(new NpgsqlParameter { Value = job.CeleryTaskId });
        p.Add(new NpgsqlParameter { Value = job.WorkflowName });
        p.Add(new NpgsqlParameter { Value = job.Priority });
        p.Add(new NpgsqlParameter { Value = (object?)job.WebhookUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)job.WebhookSecret ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar });
        p.Add(new NpgsqlParameter { Value = (object?)job.WebhookEvents ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)job.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar });
        p.Add(new NpgsqlParameter { Value = (object?)job.Username ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar });
        p.Add(new NpgsqlParameter { Value = (object?)job.Action ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar });
        p.Add(new NpgsqlParameter { Value = job.InputData.RootElement.GetRawText(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter { Value = job.DebugMode });
        p.Add(new NpgsqlParameter { Value = (object?)job.BudgetUsd ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new NpgsqlParameter { Value = (object?)job.IdempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar });
        p.Add(new NpgsqlParameter { Value = job.CreatedAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private Task<WorkflowJob?> FindByIdempotencyKeyAsync(JobSubmission submission, CancellationToken cancellationToken) =>
        db.Jobs.AsNoTracking().FirstOrDefaultAsync(
            j => j.IdempotencyKey == submission.IdempotencyKey && j.UserId == submission.UserId,
            cancellationToken);
}
