using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Tests.Mcp;

/// <summary>The official C# MCP client over Streamable HTTP against the in-process API's <c>/mcp</c>.</summary>
internal static class McpTestClients
{
    public static Task<McpClient> ConnectAsync(ApiFactory api, string? key, CancellationToken cancellationToken)
    {
        var options = new HttpClientTransportOptions
        {
            Endpoint = new Uri(api.Server.BaseAddress, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = key is null ? null : new Dictionary<string, string> { ["X-API-Key"] = key },
        };
        var transport = new HttpClientTransport(options, api.CreateClient(), ownsHttpClient: true);
        return McpClient.CreateAsync(transport, cancellationToken: cancellationToken);
    }

    /// <summary>A tool answer's JSON (its one text block).</summary>
    public static JsonObject Body(CallToolResult result) =>
        JsonNode.Parse(Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text)!.AsObject();

    /// <summary>Calls get_job until <paramref name="until"/> holds for its answer (the client's view of a long-running job), within 60 s.</summary>
    public static async Task<JsonObject> FollowAsync(McpClient client, string jobId, Func<JsonObject, bool> until, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        JsonObject? last = null;
        try
        {
            while (true)
            {
                last = Body(await client.CallToolAsync("get_job", new Dictionary<string, object?> { ["job_id"] = jobId }, cancellationToken: deadline.Token));
                if (until(last))
                {
                    return last;
                }

                await Task.Delay(100, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Job {jobId} did not get there within 60 s; last answer: {last?.ToJsonString()}");
        }
    }

    public static Task<JsonObject> FollowToEndAsync(McpClient client, string jobId, CancellationToken cancellationToken) =>
        FollowAsync(client, jobId, status => (string?)status["mcp_task_status"] is "completed" or "failed" or "cancelled", cancellationToken);
}
