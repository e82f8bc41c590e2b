using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// Group commit for submissions: concurrent requests' jobs go to Postgres as one multi-row INSERT and to Redis as one
/// pipelined XADD per batch. There is no timer: a request that finds nothing in flight is sent at once (a lone
/// request pays no extra latency); requests that arrive while a batch is in flight wait for it and go together in the
/// next one, so batches grow exactly when the database is the bottleneck.
/// </summary>
public sealed partial class SubmissionBatcher(NpgsqlDataSource dataSource, JobQueue queue, ILogger<SubmissionBatcher> logger)
{
    public const int MaxBatch = 256;

    private static readonly string InsertSql = $"""
        INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, priority, webhook_url, webhook_secret, webhook_events,
                                       user_id, username, action, status, input_data, debug_mode, budget_usd, idempotency_key,
                                       queued_at, dispatched_at, created_at, updated_at, tenant_id, trace_id)
        SELECT r.id, r.id::text, r.workflow_name, r.priority, r.webhook_url, r.webhook_secret,
               CASE WHEN r.webhook_events IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.webhook_events)) END,
               r.user_id, r.username, r.action, '{JobLifecycle.Rule(JobTransition.Submit).To.ToWire()}', r.input_data, r.debug_mode,
               r.budget_usd, r.idempotency_key, r.created_at, r.created_at, r.created_at, r.created_at, r.tenant_id, r.trace_id
          FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[],
                      $10::jsonb[], $11::bool[], $12::numeric[], $13::text[], $14::timestamptz[], $15::text[], $16::text[])
               AS r(id, workflow_name, priority, webhook_url, webhook_secret, webhook_events, user_id, username, action,
                    input_data, debug_mode, budget_usd, idempotency_key, created_at, tenant_id, trace_id)
        ON CONFLICT DO NOTHING
        RETURNING id
        """;

    private readonly Lock _gate = new();
    private readonly List<Pending> _waiting = [];
    private bool _flushing;

    /// <summary>
    /// Inserts the job (status queued) and dispatches it. False when the row was not inserted because another job
    /// holds its unique key (two requests with one idempotency key raced). A dispatch that fails is logged and left
    /// to the reconciler: the job is stored, so it is not lost.
    /// </summary>
    public Task<bool> InsertAndDispatchAsync(WorkflowJob job, JobDispatch dispatch, CancellationToken cancellationToken)
    {
        var pending = new Pending(job, dispatch, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool lead;
        lock (_gate)
        {
            _waiting.Add(pending);
            lead = !_flushing;
            _flushing = true;
        }

        if (lead)
        {
            _ = FlushWhileWaitingAsync();
        }

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task FlushWhileWaitingAsync()
    {
        while (true)
        {
            Pending[] batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                var count = Math.Min(_waiting.Count, MaxBatch);
                batch = _waiting.GetRange(0, count).ToArray();
                _waiting.RemoveRange(0, count);
            }

            try
            {
                await FlushAsync(batch);
            }
            catch (Exception ex) when (batch.Length > 1 && ex is NpgsqlException)
            {
                // One bad row fails the whole statement: retry one by one so it fails only its own request.
                LogBatchFailed(ex, batch.Length);
                foreach (var single in batch)
                {
                    try
                    {
                        await FlushAsync([single]);
                    }
                    catch (Exception singleEx)
                    {
                        single.Completion.TrySetException(singleEx);
                    }
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(ex);
                }
            }
        }
    }

    private async Task FlushAsync(Pending[] batch)
    {
        HashSet<Guid> inserted;
        await using (var command = dataSource.CreateCommand())
        {
            inserted = await InsertAsync(command, [.. batch.Select(p => p.Job)], CancellationToken.None);
        }

        var dispatches = batch.Where(p => inserted.Contains(p.Job.Id)).Select(p => p.Dispatch).ToArray();
        try
        {
            await queue.EnqueueManyAsync(dispatches, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogDispatchFailed(ex, dispatches.Length);
            await JobDispatchMarks.ClearAsync(dataSource, [.. dispatches.Select(d => d.JobId)], logger);
        }

        foreach (var pending in batch)
        {
            pending.Completion.TrySetResult(inserted.Contains(pending.Job.Id));
        }
    }

    private static async Task<HashSet<Guid>> InsertAsync(NpgsqlCommand command, WorkflowJob[] jobs, CancellationToken cancellationToken)
    {
        command.CommandText = InsertSql;
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Id).ToArray() });
        p.Add(Texts(jobs.Select(j => j.WorkflowName)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Priority).ToArray() });
        p.Add(Texts(jobs.Select(j => j.WebhookUrl)));
        p.Add(Texts(jobs.Select(j => j.WebhookSecret)));
        p.Add(Jsonbs(jobs.Select(j => j.WebhookEvents is null ? null : System.Text.Json.JsonSerializer.Serialize(j.WebhookEvents))));
        p.Add(Texts(jobs.Select(j => j.UserId)));
        p.Add(Texts(jobs.Select(j => j.Username)));
        p.Add(Texts(jobs.Select(j => j.Action)));
        p.Add(Jsonbs(jobs.Select(j => j.InputData.RootElement.GetRawText())));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.DebugMode).ToArray() });
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.BudgetUsd).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
        p.Add(Texts(jobs.Select(j => j.IdempotencyKey)));
        p.Add(new NpgsqlParameter { Value = jobs.Select(j => j.CreatedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(Texts(jobs.Select(j => j.TenantId)));
        p.Add(Texts(jobs.Select(j => j.TraceId)));

        var inserted = new HashSet<Guid>(jobs.Length);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted.Add(reader.GetGuid(0));
        }

        return inserted;
    }

    private static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static NpgsqlParameter Jsonbs(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb };

    private sealed record Pending(WorkflowJob Job, JobDispatch Dispatch, TaskCompletionSource<bool> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} submissions failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} stored job(s) could not be dispatched; the reconciler will dispatch them")]
    private partial void LogDispatchFailed(Exception ex, int count);
}
