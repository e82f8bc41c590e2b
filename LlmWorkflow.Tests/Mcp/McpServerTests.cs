using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Tests.Mcp;

/// <summary>
/// The official C# MCP client (Streamable HTTP) against the in-process API and a worker: it lists the workflows as
/// tools with their input schemas, calls the mock-provider <c>support_triage</c> and follows the job through
/// <c>get_job</c> to its result; a call without a key is refused, another tenant's key cannot read or cancel the job.
/// </summary>
[IntegrationTest]
public sealed class McpServerTests(TestServers servers) : IAsyncLifetime
{
    private const string OtherTenantKey = "mcp-other-tenant-key";
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(McpServerTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        });
        _api = new ApiFactory(settings);
        _api.CreateClient().Dispose(); // starts the in-process server
        _worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _api.DisposeAsync();
    }

    private Task<McpClient> ConnectAsync(string? key, CancellationToken cancellationToken) => McpTestClients.ConnectAsync(_api, key, cancellationToken);

    [Fact]
    public async Task TheWorkflowsAreToolsWithTheirInputSchemasAndACallRunsAJobToItsResult()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = await ConnectAsync(TestEnvironment.CallerKey, ct);

        var tools = await client.ListToolsAsync(cancellationToken: ct);

        var names = tools.Select(t => t.Name).ToList();
        Assert.Contains("get_job", names);
        Assert.Contains("cancel_job", names);
        var triage = tools.Single(t => t.Name == "support_triage");
        var catalog = await _api.CreateAuthenticatedClient().GetFromJsonAsync<JsonObject>("/api/v1/workflows/support_triage", ct);
        Assert.True(JsonNode.DeepEquals(catalog!["input_schema"], JsonNode.Parse(triage.JsonSchema.GetRawText())),
            $"tool schema {triage.JsonSchema.GetRawText()} differs from the catalog's {catalog["input_schema"]!.ToJsonString()}");

        var input = JsonSerializer.Deserialize<Dictionary<string, object?>>(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Workflows, "examples", "support_triage.json"), ct))!;
        var submitted = await client.CallToolAsync("support_triage", input, cancellationToken: ct);

        Assert.NotEqual(true, submitted.IsError);
        var accepted = McpTestClients.Body(submitted);
        var jobId = (string)accepted["job_id"]!;
        Assert.Equal(("queued", "working"), ((string?)accepted["status"], (string?)accepted["mcp_task_status"]));
        Assert.EndsWith($"/api/v1/status/{jobId}", (string)accepted["status_url"]!, StringComparison.Ordinal);

        var done = await McpTestClients.FollowToEndAsync(client, jobId, ct);
        Assert.Equal(("completed", "completed"), ((string?)done["status"], (string?)done["mcp_task_status"]));
        Assert.NotNull(done["result"]!["output"]);
        Assert.NotNull(done["result"]!["cost_data"]);

        // The REST API sees the same job, for the same tenant.
        var rest = await _api.CreateAuthenticatedClient().GetFromJsonAsync<JsonObject>($"/api/v1/status/{jobId}", ct);
        Assert.Equal("completed", (string?)rest!["status"]);
    }

    [Fact]
    public async Task ACallWithoutAKeyIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;

        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() => ConnectAsync(null, ct));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var wrong = await Assert.ThrowsAnyAsync<HttpRequestException>(() => ConnectAsync("not-a-key", ct));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task AnotherTenantCannotSeeOrCancelTheJob()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var owner = await ConnectAsync(TestEnvironment.CallerKey, ct);
        await using var other = await ConnectAsync(OtherTenantKey, ct);
        var submitted = await owner.CallToolAsync("hello_transform", new Dictionary<string, object?> { ["name"] = "Ada" }, cancellationToken: ct);
        var jobId = (string)McpTestClients.Body(submitted)["job_id"]!;

        var seen = await other.CallToolAsync("get_job", new Dictionary<string, object?> { ["job_id"] = jobId }, cancellationToken: ct);
        var cancelled = await other.CallToolAsync("cancel_job", new Dictionary<string, object?> { ["job_id"] = jobId }, cancellationToken: ct);

        Assert.True(seen.IsError);
        Assert.Contains("No job", Assert.IsType<TextContentBlock>(Assert.Single(seen.Content)).Text, StringComparison.Ordinal);
        Assert.True(cancelled.IsError);
        var mine = await McpTestClients.FollowToEndAsync(owner, jobId, ct);
        Assert.Equal("completed", (string?)mine["status"]);
    }

    [Fact]
    public async Task ATaskIsItsJobAndOnlyItsTenantCanReadWaitForOrCancelIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var owner = await ConnectAsync(TestEnvironment.CallerKey, ct);
        await using var other = await ConnectAsync(OtherTenantKey, ct);
        var created = await RequestAsync(owner, "tools/call", new JsonObject
        {
            ["name"] = "hello_transform",
            ["arguments"] = new JsonObject { ["name"] = "Ada" },
            ["task"] = new JsonObject { ["ttl"] = 60_000 },
        }, ct);
        var taskId = (string)created["task"]!["taskId"]!;
        Assert.Equal("working", (string?)created["task"]!["status"]);

        var result = await RequestAsync(owner, "tasks/result", new JsonObject { ["taskId"] = taskId }, ct);
        var task = await RequestAsync(owner, "tasks/get", new JsonObject { ["taskId"] = taskId }, ct);

        Assert.Equal((false, "completed"), ((bool)result["isError"]!, (string?)result["structuredContent"]!["status"]));
        Assert.Equal(taskId, (string?)result["structuredContent"]!["job_id"]);
        Assert.Equal(("completed", 500), ((string?)task["status"], (int)task["pollInterval"]!));
        foreach (var method in new[] { "tasks/get", "tasks/result", "tasks/cancel" })
        {
            var refused = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => RequestAsync(other, method, new JsonObject { ["taskId"] = taskId }, ct));
            Assert.Contains($"No task {taskId}", refused.Message, StringComparison.Ordinal);
        }

        var malformed = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => RequestAsync(owner, "tasks/get", new JsonObject { ["taskId"] = "nope" }, ct));
        Assert.Contains("params.taskId", malformed.Message, StringComparison.Ordinal);
        var ended = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => RequestAsync(owner, "tasks/cancel", new JsonObject { ["taskId"] = taskId }, ct));
        Assert.Contains("already completed", ended.Message, StringComparison.Ordinal);
    }

    /// <summary>A request the C# SDK has no typed method for (the task methods), its result as JSON.</summary>
    private static async Task<JsonObject> RequestAsync(McpClient client, string method, JsonObject parameters, CancellationToken cancellationToken)
    {
        var response = await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);
        return response.Result!.AsObject();
    }

    [Fact]
    public async Task InputThatBreaksTheSchemaIsAnErrorNamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = await ConnectAsync(TestEnvironment.CallerKey, ct);

        var result = await client.CallToolAsync("support_triage", new Dictionary<string, object?> { ["ticket_id"] = "T-1" }, cancellationToken: ct);

        Assert.True(result.IsError);
        Assert.Contains("input_data.customer_name", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text, StringComparison.Ordinal);
    }
}
