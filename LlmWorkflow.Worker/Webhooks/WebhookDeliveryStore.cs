using System.Data.Common;
using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// The dispatcher's side of <c>llm_webhook_attempts</c>. A due pending row is claimed with a lease (its
/// <c>next_retry_at</c> pushed past the attempt's timeout) under <c>FOR UPDATE SKIP LOCKED</c>, so several workers
/// share the work without sending an attempt twice and without holding a transaction open during the HTTP call;
/// a worker that dies mid-attempt leaves a row that becomes due again when the lease lapses.
/// </summary>
internal sealed class WebhookDeliveryStore(NpgsqlDataSource dataSource)
{
    // $1 batch size, $2 lease (interval).
    private const string ClaimDueSql = """
        WITH due AS (
            SELECT id FROM llm_webhook_attempts
             WHERE state = 'pending' AND next_retry_at <= now()
             ORDER BY next_retry_at
             LIMIT $1
               FOR UPDATE SKIP LOCKED)
        UPDATE llm_webhook_attempts a
           SET next_retry_at = now() + $2
          FROM due
         WHERE a.id = due.id
        -- A deleted job's last events are signed with the secret its tombstone keeps.
        RETURNING a.id, a.job_id, a.event_id, a.event_type, a.attempt_number, a.webhook_url, a.payload::text AS payload,
                  COALESCE((SELECT j.webhook_secret FROM llm_workflow_jobs j WHERE j.id = a.job_id),
                           (SELECT d.webhook_secret FROM llm_deleted_jobs d WHERE d.job_id = a.job_id)) AS job_secret
        """;

    // $1 attempt id, $2 state, $3 HTTP status, $4 response body, $5 error, $6 attempted at, $7 duration (ms),
    // $8 next attempt at (NULL: no next attempt).
    private const string RecordSql = """
        WITH done AS (
            UPDATE llm_webhook_attempts
               SET state = $2, http_status = $3, response_body = $4, error_message = $5, attempted_at = $6,
                   duration_ms = $7, next_retry_at = $8
             WHERE id = $1 AND state = 'pending'
            RETURNING job_id, event_id, event_type, attempt_number, webhook_url, payload)
        INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
        SELECT job_id, event_id, event_type, attempt_number + 1, webhook_url, payload, $8, $8, 'pending'
          FROM done
         WHERE $8 IS NOT NULL
        """;

    // $1 attempt id.
    private const string ReleaseSql = "UPDATE llm_webhook_attempts SET next_retry_at = now() WHERE id = $1 AND state = 'pending'";

    public async Task<IReadOnlyList<WebhookDelivery>> ClaimDueAsync(int batchSize, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ClaimDueSql);
        command.Parameters.Add(new NpgsqlParameter { Value = batchSize });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new List<WebhookDelivery>();
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add(ReadDelivery(reader));
        }

        return claimed;
    }

    private static WebhookDelivery ReadDelivery(DbDataReader reader) => new(
        reader.Field<Guid>("id"), reader.Field<Guid>("job_id"), reader.Field<string>("event_id"), reader.Field<string>("event_type"),
        reader.Field<int>("attempt_number"), reader.Field<string>("webhook_url"), reader.Field<string>("payload"),
        reader.FieldOrNull<string>("job_secret"));

    /// <summary>
    /// Stores the attempt's result and state; with <paramref name="nextAttemptAt"/> also inserts the next attempt
    /// (same event id, attempt number + 1), in the same statement so a crash cannot lose the retry.
    /// </summary>
    public async Task RecordAsync(
        WebhookDelivery delivery, WebhookSendResult result, DateTimeOffset attemptedAt, string state, DateTimeOffset? nextAttemptAt,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RecordSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = delivery.AttemptId });
        p.Add(new NpgsqlParameter { Value = state });
        p.Add(new NpgsqlParameter { Value = (object?)result.HttpStatus ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        p.Add(new NpgsqlParameter { Value = (object?)result.ResponseBody ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)result.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = attemptedAt });
        p.Add(new NpgsqlParameter { Value = result.DurationMs });
        p.Add(new NpgsqlParameter { Value = (object?)nextAttemptAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Gives a claimed attempt back unsent (worker shutting down), due at once for another worker.</summary>
    public async Task ReleaseAsync(Guid attemptId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReleaseSql);
        command.Parameters.Add(new NpgsqlParameter { Value = attemptId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>A claimed pending attempt: which event to send where, and the job's own secret if it has one.</summary>
internal sealed record WebhookDelivery(
    Guid AttemptId,
    Guid JobId,
    string EventId,
    string EventType,
    int AttemptNumber,
    string WebhookUrl,
    string PayloadJson,
    string? JobSecret);
