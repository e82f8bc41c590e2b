using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Pipeline.Jobs;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// Builds webhook bodies in the documents' shape: <c>event, job_id, status, workflow_name, user_id, result {output,
/// cost_data}, metadata, error, timestamp</c>. Bodies above the size cap carry a status URL instead of the output.
/// </summary>
internal static class WebhookPayloads
{
    public static JsonObject Terminal(string eventType, WebhookJobSnapshot job, DateTimeOffset timestamp, int maxPayloadBytes)
    {
        var payload = new JsonObject
        {
            ["event"] = eventType,
            ["job_id"] = job.Id.ToString(),
            ["status"] = job.Status,
            ["workflow_name"] = job.WorkflowName,
            ["user_id"] = job.UserId,
            ["result"] = job.Result?.DeepClone(),
            ["metadata"] = new JsonObject
            {
                ["duration_ms"] = job.DurationMs,
                ["total_tokens"] = job.TotalTokens,
                ["cost_usd"] = job.CostUsd,
                ["username"] = job.Username,
                ["action"] = job.Action,
                ["attempt"] = job.Attempt,
            },
            ["error"] = job.Error?.DeepClone(),
            ["timestamp"] = timestamp,
        };
        return Capped(payload, job.Id, maxPayloadBytes);
    }

    public static JsonObject StepCompleted(ClaimedJob job, StepRecord step, int percent, DateTimeOffset timestamp) => new()
    {
        ["event"] = WebhookEventTypes.StepCompleted,
        ["job_id"] = job.Id.ToString(),
        ["status"] = JobStatus.Processing.ToWire(),
        ["workflow_name"] = job.WorkflowName,
        ["user_id"] = job.UserId,
        ["step"] = new JsonObject
        {
            ["step_id"] = step.StepId,
            ["display_name"] = step.DisplayName,
            ["type"] = step.Type,
            ["status"] = step.Status.ToWire(),
            ["duration_ms"] = (int)Math.Round(step.DurationMs),
            ["percent"] = percent,
        },
        ["metadata"] = new JsonObject
        {
            ["username"] = job.Username,
            ["action"] = job.Action,
            ["attempt"] = job.Attempt,
        },
        ["timestamp"] = timestamp,
    };

    /// <summary>The status URL a receiver fetches a truncated output from.</summary>
    public static string StatusUrl(Guid jobId) => $"/api/v1/status/{jobId}";

    private static JsonObject Capped(JsonObject payload, Guid jobId, int maxPayloadBytes)
    {
        var size = Encoding.UTF8.GetByteCount(payload.ToJsonString());
        if (size <= maxPayloadBytes || payload["result"] is not JsonObject result || !result.ContainsKey("output"))
        {
            return payload;
        }

        result["output"] = new JsonObject
        {
            ["truncated"] = true,
            ["size_bytes"] = size,
            ["status_url"] = StatusUrl(jobId),
        };
        return payload;
    }
}
