using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using static LlmWorkflow.Tests.Agents.AgentTestKit;

namespace LlmWorkflow.Tests.Agents;

/// <summary>
/// An MCP server started in-process (ModelContextProtocol.AspNetCore over Streamable HTTP on Kestrel) serves a tool;
/// the agent step lists it with the official C# client, offers it to the model and calls it once with the ledger's key.
/// </summary>
[IntegrationTest]
public sealed class McpToolTests : IAsyncDisposable
{
    private readonly ConcurrentQueue<(string OrderId, string? Key)> _calls = new();
    private WebApplication? _server;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task<Uri> StartMcpServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var track = McpServerTool.Create(
            (string order_id, RequestContext<CallToolRequestParams> request) =>
            {
                _calls.Enqueue((order_id, (string?)request.Params?.Meta?["idempotency_key"]));
                return $"Order {order_id} left the warehouse on 2026-11-21 and arrives tomorrow.";
            },
            new McpServerToolCreateOptions { Name = "track_order", Description = "Tracks an order's shipment by id." });
        builder.Services.AddMcpServer().WithHttpTransport(o => o.Stateless = true).WithTools([track]);
        _server = builder.Build();
        _server.MapMcp("/mcp");
        await _server.StartAsync(TestContext.Current.CancellationToken);
        var address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/mcp");
    }

    [Fact]
    public async Task TheAgentCallsAToolListedFromAnMcpServerOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var mcp = await StartMcpServerAsync();
        await using var provider = await FakeOpenAiServer.StartAsync();
        provider.Enqueue(ToolCallWire.OpenAiToolCall("call_mcp", "track_order", new JsonObject { ["order_id"] = "A-17" }));
        provider.Enqueue(ToolCallWire.OpenAiText("It arrives tomorrow."));
        var workflow = Engine.TestWorkflows.Parse($$$$"""
            {"name": "test", "steps": [{"id": "agent", "type": "agent", "config": {
              "model": "fakeai/gpt-4o-mini", "input": "Where is A-17?",
              "tools": [{"name": "shipping", "type": "mcp", "url": "{{{{mcp}}}}", "allowed_tools": ["track_order"]}]}}]}
            """);

        var result = await Runner(OpenAiGateway(provider.ApiUrl), AgentServices.InMemory(allowPrivateNetworks: true))
            .RunAsync(workflow, null, Options("run-mcp"), ct);

        Assert.Equal(WorkflowRunStatus.Completed, result.Status);
        Assert.Equal("It arrives tomorrow.", (string?)result.Output!["answer"]);
        var offered = Assert.Single(provider.Requests[0].Json!["tools"]!.AsArray());
        Assert.Equal("track_order", (string?)offered!["function"]!["name"]);
        Assert.Equal("string", (string?)offered["function"]!["parameters"]!["properties"]!["order_id"]!["type"]);
        var call = Assert.Single(_calls);
        Assert.Equal(("A-17", AgentStepTests.Key("run-mcp", "agent", 0, "call_mcp")), call);
        Assert.Contains("arrives tomorrow", (string?)provider.Requests[1].Json!["messages"]!.AsArray().Last()!["content"], StringComparison.Ordinal);
    }
}
