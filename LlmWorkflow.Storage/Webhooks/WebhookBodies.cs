using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// Turns a stored webhook event (<c>llm_webhook_attempts.payload</c>) into the body that is signed and sent, and that
/// the admin views show. A terminal event is stored as a <see cref="TerminalWebhookSnapshot"/> and rendered here
/// through <see cref="TerminalWebhookBody"/>; a step event, and a terminal event written by a version that built
/// the body in SQL, is stored as the body itself.
/// </summary>
public static class WebhookBodies
{
    /// <summary>The payload key that marks a stored terminal snapshot (a body never has it).</summary>
    public const string SnapshotKey = "terminal_snapshot";

    /// <summary>The status URL a receiver fetches a truncated output from.</summary>
    public static string StatusUrl(Guid jobId) => $"/api/v1/status/{jobId}";

    /// <summary>The exact bytes to sign and send for a stored payload.</summary>
    public static byte[] ToUtf8(string storedPayload)
    {
        var stored = JsonNode.Parse(storedPayload);
        if (stored is JsonObject fields && fields[SnapshotKey] is JsonObject snapshot)
        {
            return Terminal(snapshot.Deserialize(WebhookStorageJsonContext.Default.TerminalWebhookSnapshot)!);
        }

        // jsonb does not keep the original bytes; the compact re-serialization is what is signed and sent.
        return Encoding.UTF8.GetBytes(stored?.ToJsonString() ?? "null");
    }

    /// <summary>The body of a stored payload as a JSON tree (what the admin views show: the body that is sent).</summary>
    public static JsonNode? ToNode(string storedPayload) => JsonNode.Parse(ToUtf8(storedPayload));

    /// <summary>
    /// The documents' terminal body for a finished job. A body above the snapshot's size cap carries
    /// <see cref="TruncatedOutput"/> (with the full body's size) in place of <c>result.output</c>.
    /// </summary>
    internal static byte[] Terminal(TerminalWebhookSnapshot job)
    {
        var body = new TerminalWebhookBody(
            "workflow." + job.Status, job.JobId.ToString(), job.Status, job.WorkflowName, job.UserId, job.ResultData,
            new TerminalWebhookMetadata(job.DurationMs, job.TotalTokens, job.CostUsd, job.Username, job.Action, job.Attempt),
            job.ErrorData, job.FinishedAt);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, WireJsonContext.Default.TerminalWebhookBody);
        if (bytes.Length <= job.MaxPayloadBytes || job.ResultData is not JsonObject result || !result.ContainsKey("output"))
        {
            return bytes;
        }

        var truncated = new TruncatedOutput(true, bytes.Length, StatusUrl(job.JobId));
        var capped = result.DeepClone().AsObject();
        capped["output"] = JsonSerializer.SerializeToNode(truncated, WireJsonContext.Default.TruncatedOutput);
        return JsonSerializer.SerializeToUtf8Bytes(body with { Result = capped }, WireJsonContext.Default.TerminalWebhookBody);
    }

    /// <summary>A step event's body as stored (it is rendered when the step finishes and stored whole).</summary>
    public static string Step(StepWebhookBody body) => JsonSerializer.Serialize(body, WireJsonContext.Default.StepWebhookBody);

    /// <summary>A waiting event's body as stored (rendered when the job parks and stored whole).</summary>
    public static string Waiting(WaitingWebhookBody body) => JsonSerializer.Serialize(body, WireJsonContext.Default.WaitingWebhookBody);
}
