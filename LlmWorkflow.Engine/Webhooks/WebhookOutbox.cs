using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Engine.Webhooks;

/// <summary>
/// The transactional outbox of webhook events: an event is a first <c>llm_webhook_attempts</c> row in state
/// <c>pending</c>, due now. Workers' dispatchers deliver it later, off the job's path, so a slow receiver never
/// delays a job and a restarted worker loses nothing.
/// </summary>
public sealed partial class WebhookOutbox(
    NpgsqlDataSource dataSource,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookOutbox> logger)
{
    /// <summary>
    /// Records the terminal event (completed, failed, cancelled) of a finished job that has a webhook URL. Never
    /// throws: the job's outcome is already stored, so a failure here is logged rather than failing the job.
    /// </summary>
    public async Task EnqueueTerminalAsync(Guid jobId, CancellationToken cancellationToken)
    {
        try
        {
            var finished = await ReadJobAsync(jobId, cancellationToken);
            if (finished is not ({ } job, { } url) ||
                !JobStatusNames.TryParse(job.Status, out var status) ||
                WebhookEventTypes.ForStatus(status) is not { } eventType)
            {
                return;
            }

            var payload = WebhookPayloads.Terminal(eventType, job, time.GetUtcNow(), options.Value.MaxPayloadBytes);
            await EnqueueAsync(jobId, eventType, url, payload, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogEnqueueFailed(ex, jobId);
        }
    }

    /// <summary>Inserts the first attempt of a new event (new <c>webhook-id</c>), due immediately.</summary>
    public async Task EnqueueAsync(Guid jobId, string eventType, string webhookUrl, JsonObject payload, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
            VALUES ($1, $2, $3, 1, $4, $5, now(), now(), 'pending')
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = NewEventId() });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        command.Parameters.Add(new NpgsqlParameter { Value = webhookUrl });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = payload.ToJsonString() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Records terminal events that never reached the outbox: a worker that crashed between storing a job's outcome
    /// and recording its event, or a job failed by the stale-job cleanup. Only one worker sweeps at a time (an
    /// advisory lock), and only jobs finished more than a few seconds ago, so it never races the normal path.
    /// </summary>
    public async Task<int> EnqueueMissingTerminalEventsAsync(TimeSpan lookBack, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection))
        {
            tryLock.Parameters.Add(new NpgsqlParameter { Value = SweepLockKey });
            if (await tryLock.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return 0;
            }
        }

        try
        {
            var missing = new List<Guid>();
            await using (var find = new NpgsqlCommand($"""
                SELECT j.id FROM llm_workflow_jobs j
                 WHERE j.webhook_url IS NOT NULL
                   AND j.status IN ('completed', 'failed', 'cancelled')
                   AND j.completed_at > now() - $1 AND j.completed_at < now() - interval '5 seconds'
                   AND NOT EXISTS (SELECT 1 FROM llm_webhook_attempts a
                                    WHERE a.job_id = j.id AND a.created_at >= j.completed_at
                                      AND a.event_type IN ('{WebhookEventTypes.Completed}', '{WebhookEventTypes.Failed}', '{WebhookEventTypes.Cancelled}'))
                 LIMIT 500
                """, connection))
            {
                find.Parameters.Add(new NpgsqlParameter { Value = lookBack });
                await using var reader = await find.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    missing.Add(reader.GetGuid(0));
                }
            }

            foreach (var jobId in missing)
            {
                await EnqueueTerminalAsync(jobId, cancellationToken);
            }

            return missing.Count;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
            unlock.Parameters.Add(new NpgsqlParameter { Value = SweepLockKey });
            await unlock.ExecuteScalarAsync(CancellationToken.None);
        }
    }

    /// <summary>The webhook URL of a job that opted in to <paramref name="eventType"/>; null otherwise.</summary>
    public async Task<string?> FindOptInUrlAsync(Guid jobId, string eventType, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT webhook_url FROM llm_workflow_jobs
             WHERE id = $1 AND webhook_url IS NOT NULL AND $2 = ANY(webhook_events)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    // "LLMWFWH" in ASCII: one sweeper at a time across all workers.
    private const long SweepLockKey = 0x4C4C4D57465748;

    /// <summary>Standard Webhooks message id: unique per event, time-ordered, repeated on every retry of the event.</summary>
    public static string NewEventId() => $"msg_{Guid.CreateVersion7():N}";

    private async Task<(WebhookJobSnapshot Job, string Url)?> ReadJobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT workflow_name, status, user_id, username, action, attempt, result_data::text, error_data::text,
                   duration_ms, total_tokens, cost_usd, webhook_url
              FROM llm_workflow_jobs
             WHERE id = $1 AND webhook_url IS NOT NULL
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var job = new WebhookJobSnapshot(
            jobId,
            reader.GetString(0),
            reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.GetInt32(5),
            reader.IsDBNull(6) ? null : JsonNode.Parse(reader.GetString(6)),
            reader.IsDBNull(7) ? null : JsonNode.Parse(reader.GetString(7)),
            reader.IsDBNull(8) ? null : reader.GetInt32(8),
            reader.GetInt32(9),
            reader.GetDecimal(10));
        return (job, reader.GetString(11));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record the webhook event of job {JobId}; the receiver will not be notified")]
    private partial void LogEnqueueFailed(Exception ex, Guid jobId);
}
