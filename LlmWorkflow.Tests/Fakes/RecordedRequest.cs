using System.Text.Json.Nodes;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>One request a fake server received, as the client sent it.</summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string QueryString,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    DateTimeOffset ReceivedAt,
    long Timestamp,
    string Protocol = "HTTP/1.1",
    string ConnectionId = "")
{
    /// <summary>The body parsed as JSON (null when empty or not JSON).</summary>
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? Query(string name) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(QueryString).TryGetValue(name, out var value) ? value.ToString() : null;
}
