using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.EndToEnd;

/// <summary>One job the whole way: API → Postgres + Redis stream → Worker → Postgres → status endpoint.</summary>
[IntegrationTest]
public sealed class WalkingSkeletonTests(TestServers servers) : IAsyncLifetime
{
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(WalkingSkeletonTests));
        _api = new ApiFactory(environment.Settings());
        _client = _api.CreateAuthenticatedClient();
        _worker = await WorkerHost.StartAsync(environment.Settings(new Dictionary<string, string?> { ["Worker:Id"] = "skeleton-worker" }));
    }

    [Fact]
    public async Task SubmittedTransformJobCompletesAndIsReadableByStatus()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await _client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Ada" },
            username = "ada",
            action = "walking skeleton",
        }, ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.NotNull(accepted);
        Assert.Equal("queued", (string?)accepted["status"]);
        Assert.Equal("hello_transform", (string?)accepted["workflow_name"]);
        var statusUrl = (string)accepted["status_url"]!;
        Assert.Equal(statusUrl, response.Headers.Location?.ToString());

        var status = await JobPolling.WaitForTerminalAsync(_client, statusUrl, TimeSpan.FromSeconds(30), ct);

        Assert.Equal("completed", (string?)status["status"]);
        Assert.Equal("Hello, Ada!", (string?)status["result"]?["output"]?["greeting"]);
        Assert.Equal("ada", (string?)status["username"]);
        Assert.Equal("walking skeleton", (string?)status["action"]);
        Assert.NotNull(status["started_at"]);
        Assert.NotNull(status["completed_at"]);
        var steps = status["steps"]!.AsArray();
        Assert.Equal("greet", (string?)steps.Single()!["step_id"]);
        Assert.Equal("completed", (string?)steps.Single()!["status"]);
    }

    [Fact]
    public async Task UnknownJobIs404()
    {
        var response = await _client.GetAsync($"/api/v1/status/{Guid.NewGuid()}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _client.Dispose();
        await _api.DisposeAsync();
    }
}
