using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using LlmWorkflow.Storage.Webhooks;
using LlmWorkflow.Api.Webhooks;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>Writes finished job rows straight to Postgres and records their terminal webhook event through the outbox.</summary>
public static class FinishedJobs
{
    public static readonly JsonObject SampleResult = new()
    {
        ["output"] = new JsonObject { ["mission_plan"] = "Walk the dog.", ["parsed_sections"] = new JsonArray("intro") },
        ["cost_data"] = new JsonObject { ["provider"] = "mock", ["model"] = "mock/echo", ["total_tokens"] = 42, ["cost_usd"] = 0.0012m },
    };

    /// <summary>Inserts a completed job with a webhook and enqueues its <c>workflow.completed</c> event; returns the job id.</summary>
    public static Task<Guid> CompleteWithWebhookAsync(NpgsqlDataSource database, string webhookUrl, string? webhookSecret) =>
        FinishWithWebhookAsync(database, webhookUrl, webhookSecret, "completed", SampleResult, null);

    /// <summary>
    /// Inserts a job finished as <paramref name="status"/> with a webhook and enqueues its terminal event through the
    /// outbox (the same SQL the finishing statements use); returns the job id.
    /// </summary>
    public static async Task<Guid> FinishWithWebhookAsync(
        NpgsqlDataSource database, string webhookUrl, string? webhookSecret, string status, JsonNode? result, JsonNode? error,
        int maxPayloadBytes = 256 * 1024)
    {
        var id = Guid.CreateVersion7();
        await using (var command = database.CreateCommand("""
            INSERT INTO llm_workflow_jobs (id, celery_task_id, workflow_name, status, input_data, result_data, error_data, webhook_url, webhook_secret,
                                           user_id, username, action, attempt, started_at, completed_at, duration_ms, total_tokens, cost_usd)
            VALUES ($1, $1::text, 'hello_transform', $5, '{}', $2::jsonb, $6::jsonb, $3, $4, 'user-1', 'ada', 'tests', 1, now(), now(), 1234, 42, 0.0012)
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)result?.ToJsonString() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = webhookUrl });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)webhookSecret ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Varchar });
            command.Parameters.Add(new NpgsqlParameter { Value = status });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)error?.ToJsonString() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await command.ExecuteNonQueryAsync();
        }

        var outbox = new WebhookOutbox(database, Options.Create(new WebhookOptions { MaxPayloadBytes = maxPayloadBytes }));
        await outbox.EnqueueTerminalAsync(id, CancellationToken.None);
        return id;
    }

    public static Task<IReadOnlyList<WebhookAttemptView>> AttemptsAsync(NpgsqlDataSource database, Guid jobId) =>
        new WebhookAdmin(database).ListAttemptsAsync(jobId, CancellationToken.None);

    /// <summary>Waits until the job's latest attempt is in <paramref name="state"/> and returns all its attempts.</summary>
    public static async Task<IReadOnlyList<WebhookAttemptView>> WaitForLatestStateAsync(NpgsqlDataSource database, Guid jobId, string state, TimeSpan timeout)
    {
        IReadOnlyList<WebhookAttemptView> attempts = [];
        await Eventually.TrueAsync(async () =>
        {
            attempts = await AttemptsAsync(database, jobId);
            return attempts.Count > 0 && attempts[^1].State == state;
        }, timeout, $"the latest webhook attempt of job {jobId} to be {state}");
        return attempts;
    }
}
