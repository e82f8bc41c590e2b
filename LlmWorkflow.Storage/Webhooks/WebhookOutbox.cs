using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// The transactional outbox of webhook events: an event is a first <c>llm_webhook_attempts</c> row in state
/// <c>pending</c>, due now. Workers' dispatchers deliver it later, off the job's path, so a slow receiver never
/// delays a job and a restarted worker loses nothing. A job's terminal event is written by its finishing statement
/// (<see cref="TerminalEventsSql"/>); the opt-in step and waiting events are in <c>WebhookOutbox.OptIn.cs</c>.
/// </summary>
public sealed partial class WebhookOutbox(NpgsqlDataSource dataSource, IOptions<WebhookOptions> options)
{
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
}
