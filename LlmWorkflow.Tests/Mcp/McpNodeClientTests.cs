using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Dashboard;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Mcp;

/// <summary>
/// The official MCP TypeScript SDK (<c>@modelcontextprotocol/sdk</c>, <c>clients/mcp-node</c>) under Node against the
/// API on a real port and a worker: with a tenant-bound API key it connects over Streamable HTTP, lists the tools,
/// sees a call that breaks the input schema refused, runs the shipped <c>support_agent</c> (an agent step on the mock
/// provider whose refund waits for a person) and follows the job with <c>get_job</c>: <c>input_required</c> while the
/// refund waits (the script approves it through the signed decision link in <c>waiting_for</c>), then <c>completed</c>
/// with the agent's reply. The job is that tenant's: another tenant's key cannot see it.
/// </summary>
[SystemTest]
public sealed class McpNodeClientTests(TestServers servers, ITestOutputHelper output)
{
    private const string TenantKey = "mcp-node-tenant-key";
    private const string Tenant = "node-app";

    private static string Directory { get; } = Path.Combine(RepositoryPaths.Root, "clients", "mcp-node");

    [Fact]
    public async Task TheOfficialNodeClientListsTheToolsRunsAWorkflowAndFollowsItsJobToTheEnd()
    {
        var ct = TestContext.Current.CancellationToken;
        RequireInstalled();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(McpNodeClientTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:2:Name"] = "node",
            ["Auth:ApiKeys:2:Key"] = TenantKey,
            ["Auth:ApiKeys:2:Tenant"] = Tenant,
        });
        await using var api = RealApiHost.Start(settings);
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var seen = await RunScriptAsync("follow-workflow.mjs", api, ct);

        var tools = seen["tools"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Contains("get_job", tools);
        Assert.Contains("cancel_job", tools);
        Assert.Contains("support_agent", tools);
        using var caller = api.CreateClient(admin: false);
        var catalog = await caller.GetFromJsonAsync<JsonObject>("/api/v1/workflows/support_agent", ct);
        Assert.True(JsonNode.DeepEquals(catalog!["input_schema"], seen["input_schema"]), seen["input_schema"]!.ToJsonString());

        Assert.True((bool)seen["refused"]!["is_error"]!);
        Assert.Contains("input_data.customer_name", (string)seen["refused"]!["text"]!, StringComparison.Ordinal);

        var jobId = (string)seen["accepted"]!["job_id"]!;
        Assert.Equal(("queued", "working"), ((string?)seen["accepted"]!["status"], (string?)seen["accepted"]!["mcp_task_status"]));
        var final = seen["final"]!;
        Assert.Equal(("completed", "completed"), ((string?)final["status"], (string?)final["mcp_task_status"]));
        var reply = final["result"]!["output"]!;
        Assert.Equal(("answered", 2), ((string?)reply["stop_reason"], (int)reply["tool_calls"]!));
        Assert.False(string.IsNullOrWhiteSpace((string?)reply["reply"]), reply.ToJsonString());
        var statuses = seen["task_statuses"]!.AsArray().Select(s => (string)s!).ToList();
        Assert.Equal(["input_required", "completed"], statuses.Where(s => s != "working"));

        // Tenancy: the default tenant's key does not see the node tenant's job; the node tenant's key does (REST agrees with MCP).
        using var other = await caller.GetAsync($"/api/v1/status/{jobId}", ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var owner = new HttpClient { BaseAddress = api.BaseAddress };
        owner.DefaultRequestHeaders.Add("X-API-Key", TenantKey);
        var rest = await owner.GetFromJsonAsync<JsonObject>($"/api/v1/status/{jobId}", ct);
        Assert.Equal("completed", (string?)rest!["status"]);

        await TheSameWorkflowRunsAsAnMcpTaskAsync(api, ct);
    }

    /// <summary>
    /// The SDK's experimental Tasks client (<c>follow-task.mjs</c>): it calls the tool as a task only because the server
    /// declared the <c>tasks</c> capability and the tool's <c>execution.taskSupport</c>; the task is the job, followed
    /// through <c>input_required</c> (approved; <c>tasks/result</c> waits through it) to <c>completed</c> and its result;
    /// a second task is cancelled.
    /// </summary>
    private async Task TheSameWorkflowRunsAsAnMcpTaskAsync(RealApiHost api, CancellationToken ct)
    {
        var seen = await RunScriptAsync("follow-task.mjs", api, ct);

        Assert.NotNull(seen["server_tasks_capability"]!["requests"]!["tools"]!["call"]);
        Assert.Equal("optional", (string?)seen["tool_execution"]!["taskSupport"]);
        Assert.Null(seen["error"]);
        var taskId = (string)seen["task_id"]!;
        // At input_required the SDK's stream reads tasks/result, which waits through the approval to the job's end.
        Assert.Equal(["working", "input_required"], seen["statuses"]!.AsArray().Select(s => (string)s!));
        Assert.Equal(("completed", taskId), ((string?)seen["task"]!["status"], (string?)seen["task"]!["taskId"]));
        var result = seen["result"]!;
        Assert.False((bool)result["isError"]!);
        Assert.Equal(taskId, (string?)result["_meta"]!["io.modelcontextprotocol/related-task"]!["taskId"]);
        Assert.Equal(("completed", "answered"), ((string?)result["structuredContent"]!["status"], (string?)result["structuredContent"]!["result"]!["output"]!["stop_reason"]));

        // The task is the job: the REST status of the same id, for the same tenant.
        using var owner = new HttpClient { BaseAddress = api.BaseAddress };
        owner.DefaultRequestHeaders.Add("X-API-Key", TenantKey);
        Assert.Equal("completed", (string?)(await owner.GetFromJsonAsync<JsonObject>($"/api/v1/status/{taskId}", ct))!["status"]);

        var cancelled = seen["cancelled"]!;
        Assert.Equal(("cancelled", "cancelled"), ((string?)cancelled["cancelled"]!["status"], (string?)cancelled["after"]!["status"]));
        Assert.Contains("already cancelled", (string)cancelled["second_cancel"]!, StringComparison.Ordinal);
    }

    /// <summary>Runs one of the client's scripts on <c>support_agent</c> (approving its refund) and reads the JSON line it prints.</summary>
    private async Task<JsonObject> RunScriptAsync(string script, RealApiHost api, CancellationToken ct)
    {
        var text = await ExternalCommand.RunAsync("node", [Path.Combine(Directory, script)], TimeSpan.FromMinutes(2), new Dictionary<string, string>
        {
            ["MCP_URL"] = new Uri(api.BaseAddress, "mcp").ToString(),
            ["LLMWF_API_KEY"] = TenantKey,
            ["WORKFLOW"] = "support_agent",
            ["INPUT"] = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Workflows, "examples", "support_agent.json"), ct),
            ["APPROVE"] = "1",
        }, Directory);
        output.WriteLine(text);
        return JsonNode.Parse(text.Split('\n').Last(l => l.StartsWith('{')))!.AsObject();
    }

    private static void RequireInstalled()
    {
        if (!File.Exists(Path.Combine(Directory, "node_modules", "@modelcontextprotocol", "sdk", "package.json")))
        {
            Assert.Fail($"The MCP Node client is not installed: {Path.Combine(Directory, "node_modules")} is missing. " +
                        "Run .ci/contract-setup.sh (npm ci in clients/mcp-node) first.");
        }
    }
}
