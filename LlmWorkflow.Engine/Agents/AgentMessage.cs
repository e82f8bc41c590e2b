using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// A message of an agent's conversation in its stored, canonical form — <c>{"role", "text", "calls":[{id, name,
/// arguments}], "results":[{id, result}]}</c>, keys in that order, absent parts left out — and its content address
/// (SHA-256 of that UTF-8 text). The same message always has the same address, so a conversation stores each message
/// once however many turns send it.
/// </summary>
public sealed record AgentMessage(string Hash, string Canonical)
{
    public int Bytes => Encoding.UTF8.GetByteCount(Canonical);

    public static AgentMessage From(ChatMessage message)
    {
        var json = new JsonObject { ["role"] = message.Role.Value };
        if (!string.IsNullOrEmpty(message.Text))
        {
            json["text"] = message.Text;
        }

        var calls = message.Contents.OfType<FunctionCallContent>().ToList();
        if (calls.Count > 0)
        {
            json["calls"] = new JsonArray([.. calls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.CallId,
                ["name"] = c.Name,
                ["arguments"] = Arguments(c.Arguments),
            })]);
        }

        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count > 0)
        {
            json["results"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject { ["id"] = r.CallId, ["result"] = r.Result?.ToString() })]);
        }

        return FromCanonical(json.ToJsonString());
    }

    public static AgentMessage FromCanonical(string canonical) =>
        new(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), canonical);

    private ChatMessage? _chatMessage;

    /// <summary>The message as Microsoft.Extensions.AI sends it (built once: every later turn sends it again).</summary>
    public ChatMessage ToChatMessage() => _chatMessage ??= BuildChatMessage();

    private ChatMessage BuildChatMessage()
    {
        var json = JsonNode.Parse(Canonical)!.AsObject();
        var message = new ChatMessage(new ChatRole((string)json["role"]!), (string?)json["text"]);
        foreach (var call in json["calls"]?.AsArray() ?? [])
        {
            message.Contents.Add(new FunctionCallContent((string)call!["id"]!, (string)call["name"]!, ToDictionary(call["arguments"] as JsonObject)));
        }

        foreach (var result in json["results"]?.AsArray() ?? [])
        {
            message.Contents.Add(new FunctionResultContent((string)result!["id"]!, (string?)result["result"]));
        }

        return message;
    }

    private (IReadOnlyList<AgentToolCall> Calls, string? Text)? _parsed;

    /// <summary>The function calls of an assistant message, in order (parsed once: the loop and its events all ask).</summary>
    public IReadOnlyList<AgentToolCall> Calls() => Parsed().Calls;

    public string? Text => Parsed().Text;

    private int? _tokens;

    /// <summary>What the message adds to a prompt by the chars/4 rule (counted once: every later turn sends it again).</summary>
    public int EstimatedTokens => _tokens ??= Llm.TokenEstimator.Estimate(Canonical);

    private (IReadOnlyList<AgentToolCall> Calls, string? Text) Parsed() => _parsed ??= Parse(Canonical);

    private static (IReadOnlyList<AgentToolCall>, string?) Parse(string canonical)
    {
        var json = JsonNode.Parse(canonical)!.AsObject();
        IReadOnlyList<AgentToolCall> calls = [.. (json["calls"]?.AsArray() ?? []).Select(call => new AgentToolCall(
            (string)call!["id"]!, (string)call["name"]!, call["arguments"] as JsonObject ?? []))];
        return (calls, (string?)json["text"]);
    }

    /// <summary>Arguments as one JSON object, whatever the provider's SDK parsed them into.</summary>
    public static JsonObject Arguments(IDictionary<string, object?>? arguments)
    {
        if (arguments is null)
        {
            return [];
        }

        var json = new JsonObject();
        foreach (var (name, value) in arguments)
        {
            json[name] = value switch
            {
                null => null,
                JsonNode node => node.DeepClone(),
                JsonElement element => JsonNode.Parse(element.GetRawText()),
                _ => JsonSerializer.SerializeToNode(value, value.GetType()),
            };
        }

        return json;
    }

    private static Dictionary<string, object?> ToDictionary(JsonObject? arguments) =>
        arguments?.ToDictionary(p => p.Key, p => (object?)(p.Value is null ? null : JsonDocument.Parse(p.Value.ToJsonString()).RootElement.Clone())) ?? [];
}

/// <summary>One tool call a model asked for: its id (the provider's), the tool and the arguments.</summary>
public sealed record AgentToolCall(string CallId, string Name, JsonObject Arguments);
