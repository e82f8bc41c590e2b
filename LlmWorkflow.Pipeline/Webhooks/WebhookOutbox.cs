using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Pipeline.Webhooks;

/// <summary>
/// The transactional outbox of webhook events: an event is a first <c>llm_webhook_attempts</c> row in state
/// <c>pending</c>, due now. Workers' dispatchers deliver it later, off the job's path, so a slow receiver never
/// delays a job and a restarted worker loses nothing.
/// </summary>
public sealed class WebhookOutbox(NpgsqlDataSource dataSource, IOptions<WebhookOptions> options)
{
    /// <summary>
    /// The terminal-event half of a terminal transition: an <c>INSERT … SELECT</c> that records one
    /// <c>workflow.completed | failed | cancelled</c> event, due now, for each row of <paramref name="finishedJobs"/>
    /// that has a webhook URL. It is meant to sit in a <c>WITH</c> clause of the statement that finishes the jobs, so
    /// the outcome and its event commit together or not at all (no gap to repair, no sweeper). The source must have
    /// the columns <c>id, workflow_name, status, user_id, username, action, attempt, webhook_url, result_data,
    /// error_data, duration_ms, total_tokens, cost_usd</c> holding the jobs' values after the transition. The body is
    /// the documents' payload, built here once for every terminal transition; bodies above
    /// <paramref name="maxPayloadBytes"/> carry the status URL instead of the output.
    /// </summary>
    public static string TerminalEventsSql(string finishedJobs, int maxPayloadBytes) => $"""
        INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
        SELECT e.id, e.event_id, e.event_type, 1, e.webhook_url,
               CASE WHEN octet_length(e.body::text) > {maxPayloadBytes}
                         AND jsonb_typeof(e.body -> 'result') = 'object' AND (e.body -> 'result' -> 'output') IS NOT NULL
                    THEN jsonb_set(e.body, ARRAY['result', 'output'], jsonb_build_object(
                             'truncated', TRUE, 'size_bytes', octet_length(e.body::text), 'status_url', '/api/v1/status/' || e.id::text))
                    ELSE e.body END,
               now(), now(), 'pending'
          FROM (SELECT f.id, f.webhook_url, 'workflow.' || f.status AS event_type,
                       -- Standard Webhooks message id, time-ordered like a UUIDv7: 'msg_' + 12 hex ms + 20 random hex.
                       'msg_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
                              || substr(replace(gen_random_uuid()::text, '-', ''), 13, 20) AS event_id,
                       jsonb_build_object(
                           'event', 'workflow.' || f.status, 'job_id', f.id::text, 'status', f.status,
                           'workflow_name', f.workflow_name, 'user_id', f.user_id, 'result', f.result_data,
                           'metadata', jsonb_build_object('duration_ms', f.duration_ms, 'total_tokens', f.total_tokens,
                               'cost_usd', f.cost_usd, 'username', f.username, 'action', f.action, 'attempt', f.attempt),
                           'error', f.error_data,
                           'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) AS body
                  FROM {finishedJobs} f
                 WHERE f.webhook_url IS NOT NULL AND f.status IN ('completed', 'failed', 'cancelled')) e
        """;

    /// <summary>
    /// Records the terminal event of a job that is already finished, from its stored row (tests and operators that
    /// write finished rows directly). The pipeline's own transitions record the event in the finishing statement.
    /// </summary>
    public async Task EnqueueTerminalAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH job AS (SELECT * FROM llm_workflow_jobs WHERE id = $1)
            {TerminalEventsSql("job", options.Value.MaxPayloadBytes)}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await command.ExecuteNonQueryAsync(cancellationToken);
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
}
