using System.Net;
using System.Text;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Mcp;

/// <summary>
/// A job run through MCP that parks on a <c>wait_for_event</c>: <c>get_job</c> reports it as the MCP Tasks state
/// <c>input_required</c> (with the wait in <c>waiting_for</c>), and once the signal arrives it runs to
/// <c>completed</c>. The LLM steps call a Kestrel fake of an OpenAI-compatible provider.
/// </summary>
[IntegrationTest]
public sealed class McpWaitingJobTests(TestServers servers) : IAsyncLifetime
{
    private FakeOpenAiServer _llm = null!;
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;

    public async ValueTask InitializeAsync()
    {
        _llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(McpWaitingJobTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(_llm));
        _api = new ApiFactory(settings);
        _api.CreateClient().Dispose(); // starts the in-process server
        _worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _api.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task AJobWaitingForASignalIsInputRequiredThenCompletes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = await McpTestClients.ConnectAsync(_api, TestEnvironment.CallerKey, ct);
        var submitted = await client.CallToolAsync("llm_wait_llm", new Dictionary<string, object?> { ["topic"] = "mcp" }, cancellationToken: ct);
        var jobId = (string)McpTestClients.Body(submitted)["job_id"]!;

        var waiting = await McpTestClients.FollowAsync(client, jobId, status => (string?)status["status"] == "waiting", ct);

        Assert.Equal("input_required", (string?)waiting["mcp_task_status"]);
        Assert.Equal(("approve", "event", "approval"), ((string?)waiting["waiting_for"]!["step_id"], (string?)waiting["waiting_for"]!["kind"], (string?)waiting["waiting_for"]!["event"]));

        using var rest = _api.CreateAuthenticatedClient();
        using var signal = await rest.PostAsync($"/api/v1/jobs/{jobId}/signals/approval", new StringContent("""{"comment": "go"}""", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.Accepted, signal.StatusCode);
        var done = await McpTestClients.FollowToEndAsync(client, jobId, ct);
        Assert.Equal(("completed", "completed"), ((string?)done["status"], (string?)done["mcp_task_status"]));
        Assert.Equal("go", (string?)done["result"]!["output"]!["approval"]!["comment"]);
    }
}
