using System.Data.Common;
using LlmWorkflow.Storage.Jobs;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Api.Webhooks;

/// <summary>
/// Operator access to webhook deliveries: attempts per job, dead letters, and replays. A replay is a new attempt
/// row of the same event (same <c>webhook-id</c>, next attempt number), due at once; if it fails it is
/// dead-lettered again (replay once more after fixing the receiver).
/// </summary>
public sealed class WebhookAdmin(NpgsqlDataSource dataSource)
{
    private const string Columns = """
        id, job_id, event_id, event_type, attempt_number, webhook_url, state, http_status, response_body, error_message,
        attempted_at, duration_ms, next_retry_at, created_at, payload::text AS payload
        """;

    // The newest attempt of every event: the event's current state.
    private const string LatestPerEvent = "SELECT DISTINCT ON (event_id) * FROM llm_webhook_attempts ORDER BY event_id, attempt_number DESC";

    // $1 job id.
    private const string ListAttemptsSql = $"""
        SELECT {Columns} FROM llm_webhook_attempts WHERE job_id = $1 ORDER BY created_at, event_id, attempt_number
        """;

    // $1 limit.
    private const string ListDeadLettersSql = $"""
        SELECT {Columns} FROM ({LatestPerEvent}) latest
         WHERE state = 'dead_lettered'
         ORDER BY attempted_at DESC
         LIMIT $1
        """;

    // $1 job id.
    private const string ReplaySql = $"""
        WITH latest AS (
            SELECT * FROM llm_webhook_attempts WHERE job_id = $1
             ORDER BY created_at DESC, attempt_number DESC
             LIMIT 1),
        replayed AS (
            INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
            SELECT job_id, event_id, event_type, attempt_number + 1, webhook_url, payload, now(), now(), 'pending'
              FROM latest
             WHERE state <> 'pending'
            RETURNING {Columns})
        SELECT {Columns}, FALSE AS already_pending FROM replayed
        UNION ALL
        SELECT {Columns}, TRUE FROM latest WHERE state = 'pending'
        """;

    // $1 since.
    private const string ReplayDeadLettersSql = $"""
        INSERT INTO llm_webhook_attempts (job_id, event_id, event_type, attempt_number, webhook_url, payload, attempted_at, next_retry_at, state)
        SELECT job_id, event_id, event_type, attempt_number + 1, webhook_url, payload, now(), now(), 'pending'
          FROM ({LatestPerEvent}) latest
         WHERE state = 'dead_lettered' AND attempted_at >= $1
        """;

    public async Task<IReadOnlyList<WebhookAttemptView>> ListAttemptsAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListAttemptsSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return await ReadAllAsync(command, cancellationToken);
    }

    /// <summary>Events whose latest attempt is dead-lettered, newest first.</summary>
    public async Task<IReadOnlyList<WebhookAttemptView>> ListDeadLettersAsync(int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ListDeadLettersSql);
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        return await ReadAllAsync(command, cancellationToken);
    }

    /// <summary>Schedules a new attempt of the job's latest event, whatever its state, unless one is already waiting.</summary>
    public async Task<WebhookReplay> ReplayAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReplaySql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new WebhookReplay(WebhookReplayOutcome.NothingToReplay, null);
        }

        var attempt = Read(reader);
        return reader.Field<bool>("already_pending")
            ? new WebhookReplay(WebhookReplayOutcome.AlreadyPending, attempt)
            : new WebhookReplay(WebhookReplayOutcome.Replayed, attempt);
    }

    /// <summary>Schedules a new attempt of every event dead-lettered at or after <paramref name="since"/>; returns how many.</summary>
    public async Task<int> ReplayDeadLettersAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReplayDeadLettersSql);
        command.Parameters.Add(new NpgsqlParameter { Value = since.ToUniversalTime() });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<WebhookAttemptView>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var attempts = new List<WebhookAttemptView>();
        while (await reader.ReadAsync(cancellationToken))
        {
            attempts.Add(Read(reader));
        }

        return attempts;
    }

    private static WebhookAttemptView Read(DbDataReader reader) => new(
        reader.Field<Guid>("id"), reader.Field<Guid>("job_id"), reader.Field<string>("event_id"), reader.Field<string>("event_type"),
        reader.Field<int>("attempt_number"), reader.Field<string>("webhook_url"), reader.Field<string>("state"),
        reader.FieldOrNull<int?>("http_status"), reader.FieldOrNull<string>("response_body"), reader.FieldOrNull<string>("error_message"),
        reader.Field<DateTimeOffset>("attempted_at"), reader.FieldOrNull<int?>("duration_ms"),
        reader.FieldOrNull<DateTimeOffset?>("next_retry_at"), reader.Field<DateTimeOffset>("created_at"),
        WebhookBodies.ToNode(reader.Field<string>("payload")));
}
