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
