using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// A call's prompt and answer as the OpenTelemetry GenAI semantic conventions spell them on a span
/// (<c>gen_ai.input.messages</c>, <c>gen_ai.output.messages</c>: JSON arrays of <c>{role, parts: [{type: "text",
/// content}]}</c>), for <see cref="LlmTelemetryOptions.CaptureMessages"/>.
/// </summary>
public static class GenAiMessages
{
    public const string InputAttribute = "gen_ai.input.messages";

    public const string OutputAttribute = "gen_ai.output.messages";

    /// <summary>The attributes that hold message content (the exporter's redaction looks at these).</summary>
    public static readonly IReadOnlyList<string> ContentAttributes = [InputAttribute, OutputAttribute, "gen_ai.system_instructions"];

    public static string Input(IEnumerable<ChatMessage> messages) =>
        new JsonArray([.. messages.Select(m => Message(m.Role.Value, m.Text))]).ToJsonString();

    public static string Output(string text)
    {
        var message = Message("assistant", text);
        message["finish_reason"] = "stop";
        return new JsonArray(message).ToJsonString();
    }

    private static JsonObject Message(string role, string text) => new()
    {
        ["role"] = role,
        ["parts"] = new JsonArray(new JsonObject { ["type"] = "text", ["content"] = text }),
    };
}
