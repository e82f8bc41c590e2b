using LlmWorkflow.Contracts;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// The events a finishing statement does not write: the opt-in <c>workflow.step_completed</c> and
/// <c>workflow.waiting</c> events of a running job (<c>webhook_events</c>), and a terminal event recorded after the fact.
/// </summary>
public sealed partial class WebhookOutbox
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
