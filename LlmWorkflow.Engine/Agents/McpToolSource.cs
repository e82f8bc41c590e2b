using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.AI;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// An <c>mcp</c> tool source: an MCP server over Streamable HTTP, reached with the official C# SDK's client through
/// the http tools' guarded HTTP client (the SSRF guard applies to the server's address). Its tools are listed when the
/// step runs (or resumes), filtered by <c>allowed_tools</c>, and offered under their own names; each call carries the
/// ledger's idempotency key in the request's <c>_meta</c>.
/// </summary>
internal sealed class McpToolSource : IAsyncDisposable
{
    private readonly McpClient _client;

    private McpToolSource(McpClient client) => _client = client;

    public static async Task<(McpToolSource Source, IReadOnlyList<IAgentTool> Tools)> ConnectAsync(
        AgentToolDefinition definition, HttpClient http, CancellationToken cancellationToken)
    {
        var headers = (definition.Spec["headers"] as JsonObject ?? []).ToDictionary(h => h.Key, h => h.Value?.ToString() ?? string.Empty);
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(definition.Url!),
            TransportMode = HttpTransportMode.StreamableHttp,
            Name = definition.Name,
            AdditionalHeaders = headers,
        }, http, loggerFactory: null, ownsHttpClient: false);
        McpClient client;
        try
        {
            client = await McpClient.CreateAsync(transport, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is HttpRequestException or McpException or IOException)
        {
            throw WorkflowException.External("mcp_unavailable", $"MCP server \"{definition.Name}\" ({definition.Url}) could not be reached: {failure.Message}", retryable: true);
        }

        var source = new McpToolSource(client);
        var allowed = (definition.Spec["allowed_tools"] as JsonArray)?.Select(n => (string?)n).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var listed = await client.ListToolsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        IReadOnlyList<IAgentTool> tools = [.. listed.Where(t => allowed is null || allowed.Contains(t.Name)).Select(t => (IAgentTool)new McpAgentTool(source, t, definition.RequiresApproval))];
        return (source, tools);
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    private sealed class McpAgentTool(McpToolSource source, McpClientTool tool, bool requiresApproval) : IAgentTool
    {
        public AIFunctionDeclaration Declaration { get; } = AIFunctionFactory.CreateDeclaration(tool.Name, tool.Description, tool.JsonSchema);

        public bool RequiresApproval => requiresApproval;

        public async Task<JsonNode?> InvokeAsync(AgentToolInvocation invocation, CancellationToken cancellationToken)
        {
            var arguments = invocation.Arguments.ToDictionary(p => p.Key, p => (object?)(p.Value is null ? null : JsonSerializer.SerializeToElement(p.Value, AgentJson.Default.JsonNode)));
            var result = await source._client.CallToolAsync(tool.Name, arguments, progress: null,
                new RequestOptions { Meta = new JsonObject { ["idempotency_key"] = invocation.IdempotencyKey } }, cancellationToken).ConfigureAwait(false);
            return new JsonObject
            {
                ["is_error"] = result.IsError == true,
                ["content"] = new JsonArray([.. result.Content.Select(c => c is TextContentBlock text ? JsonValue.Create(text.Text) : (JsonNode?)JsonValue.Create(c.Type))]),
                ["structured"] = result.StructuredContent is { } structured ? JsonNode.Parse(structured.GetRawText()) : null,
            };
        }
    }
}
