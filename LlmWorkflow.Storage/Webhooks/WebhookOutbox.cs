using LlmWorkflow.Contracts;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// The transactional outbox of webhook events: an event is a first <c>llm_webhook_attempts</c> row in state
/// <c>pending</c>, due now. Workers' dispatchers deliver it later, off the job's path, so a slow receiver never
/// delays a job and a restarted worker loses nothing.
/// </summary>
public sealed class WebhookOutbox(NpgsqlDataSource dataSource, IOptions<WebhookOptions> options)
{
    // $1 job id, $2 event id, $3 event type, $4 webhook URL, $5 body (jsonb).
    private const string EnqueueSql = """
        INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
        VALUES ($1, $2, $3, 1, $4, $5, now(), now(), 'pending')
        """;

    // $1 job id, $2 event type.
    private const string OptInUrlSql = """
        SELECT webhook_url FROM llm_workflow_jobs
         WHERE id = $1 AND webhook_url IS NOT NULL AND $2 = ANY(webhook_events)
        """;

    // $1 job id (the statement embeds the payload limit).
    private static string EnqueueTerminalSql(int maxPayloadBytes) => $"""
        WITH job AS (SELECT * FROM llm_workflow_jobs WHERE id = $1)
        {TerminalEventsSql("job", maxPayloadBytes)}
        """;

    /// <summary>
    /// The terminal-event half of a terminal transition: an <c>INSERT … SELECT</c> that records one
    /// <c>workflow.completed | failed | cancelled</c> event, due now, for each row of <paramref name="finishedJobs"/>
    /// that has a webhook URL. It is meant to sit in a <c>WITH</c> clause of the statement that finishes the jobs, so
    /// the outcome and its event commit together or not at all (no gap to repair, no sweeper). The source must have
    /// the columns <c>id, workflow_name, status, user_id, username, action, attempt, webhook_url, result_data,
    /// error_data, duration_ms, total_tokens, cost_usd</c> holding the jobs' values after the transition. The event
    /// stores a <see cref="TerminalWebhookSnapshot"/> of those values, the transition's time and
    /// <paramref name="maxPayloadBytes"/>; the body is rendered from it in C# (<see cref="WebhookBodies"/>), the same
    /// bytes on every attempt.
    /// </summary>
    public static string TerminalEventsSql(string finishedJobs, int maxPayloadBytes) => $"""
        INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
        SELECT f.id,
               -- Standard Webhooks message id, time-ordered like a UUIDv7: 'msg_' + 12 hex ms + 20 random hex.
               'msg_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
                      || substr(replace(gen_random_uuid()::text, '-', ''), 13, 20),
               'workflow.' || f.status, 1, f.webhook_url,
               jsonb_build_object('{WebhookBodies.SnapshotKey}', jsonb_build_object(
                   'job_id', f.id, 'status', f.status, 'workflow_name', f.workflow_name, 'user_id', f.user_id,
                   'username', f.username, 'action', f.action, 'attempt', f.attempt,
                   'result_data', f.result_data, 'error_data', f.error_data, 'duration_ms', f.duration_ms,
                   'total_tokens', f.total_tokens, 'cost_usd', f.cost_usd,
                   'finished_at', now(), 'max_payload_bytes', {maxPayloadBytes})),
               now(), now(), 'pending'
          FROM {finishedJobs} f
         WHERE f.webhook_url IS NOT NULL AND f.status IN ('completed', 'failed', 'cancelled')
        """;

    /// <summary>
    /// Records the terminal event of a job that is already finished, from its stored row (tests and operators that
    /// write finished rows directly). The pipeline's own transitions record the event in the finishing statement.
    /// </summary>
    public async Task EnqueueTerminalAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(EnqueueTerminalSql(options.Value.MaxPayloadBytes));
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Inserts the first attempt of a new step event (new <c>webhook-id</c>), due immediately; the body is stored whole.</summary>
    public Task EnqueueAsync(Guid jobId, string webhookUrl, StepWebhookBody body, CancellationToken cancellationToken) =>
        EnqueueAsync(jobId, webhookUrl, body.Event, WebhookBodies.Step(body), cancellationToken);

    /// <summary>Inserts the first attempt of a new waiting event, due immediately; the body is stored whole.</summary>
    public Task EnqueueAsync(Guid jobId, string webhookUrl, WaitingWebhookBody body, CancellationToken cancellationToken) =>
        EnqueueAsync(jobId, webhookUrl, body.Event, WebhookBodies.Waiting(body), cancellationToken);

    private async Task EnqueueAsync(Guid jobId, string webhookUrl, string eventType, string bodyJson, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(EnqueueSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = NewEventId() });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        command.Parameters.Add(new NpgsqlParameter { Value = webhookUrl });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = bodyJson });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The webhook URL of a job that opted in to <paramref name="eventType"/>; null otherwise.</summary>
    public async Task<string?> FindOptInUrlAsync(Guid jobId, string eventType, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(OptInUrlSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Standard Webhooks message id: unique per event, time-ordered, repeated on every retry of the event.</summary>
    public static string NewEventId() => $"msg_{Guid.CreateVersion7():N}";
}
