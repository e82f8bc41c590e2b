using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Versions;

/// <summary>
/// <c>POST /api/v1/jobs/{id}/fork</c>: a fork from step three with another model reuses steps one and two at $0 (the
/// fake provider's call count proves they are not called again), runs three and four with the new model, is linked
/// both ways and compares side by side; every bad override is a 400 naming it; an unfinished source is 409; another
/// tenant gets 404 for fork and compare.
/// </summary>
[IntegrationTest]
public sealed class ForkTests(TestServers servers) : IAsyncLifetime
{
    private PinnedWorkflowFiles _files = null!;
    private FakeOpenAiServer _llm = null!;
    private ApiFactory _api = null!;
    private WorkerHost _worker = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _files = PinnedWorkflowFiles.Create();
        _llm = await FakeOpenAiServer.StartAsync();
        var settings = (await TestEnvironment.CreateAsync(servers, nameof(ForkTests))).Settings(_files.Settings(_llm, PinnedDefinitionTests.OtherTenant));
        (_api, _worker) = await PinnedDefinitionTests.StartAsync(settings, TestContext.Current.CancellationToken);
        _client = _api.CreateAuthenticatedClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await PinnedDefinitionTests.StopAsync(_api, _worker);
        await _llm.DisposeAsync();
        _files.Dispose();
    }

    [Fact]
    public async Task AForkFromStepThreeWithAnotherModelPaysOnlyForThreeAndFourAndComparesWithItsSource()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = await CompletedJobAsync("forks", ct);
        var sourceStatus = await StatusAsync(source, ct);

        using var forked = await _client.PostAsJsonAsync($"/api/v1/jobs/{source}/fork", new
        {
            from_step = "three",
            overrides = new Dictionary<string, object> { ["steps.three.model"] = "openai/gpt-4o", ["steps.four.temperature"] = 0.2 },
        }, ct);
        Assert.Equal(HttpStatusCode.Accepted, forked.StatusCode);
        var accepted = (await forked.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        var fork = (string)accepted["job_id"]!;
        Assert.NotEqual((string?)sourceStatus["definition_hash"], (string?)accepted["definition_hash"]); // the overrides make a new version

        var done = await JobPolling.WaitForTerminalAsync(_client, $"/api/v1/status/{fork}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "ONE-v1"));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "TWO-v1"));
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(_llm, "THREE-v1"));
        Assert.Equal(2, PipelineTestWorkflows.CallsContaining(_llm, "FOUR-v1"));
        var threeModels = _llm.Requests.Where(r => r.Body.Contains("THREE-v1", StringComparison.Ordinal)).Select(r => (string?)r.Json!["model"]).ToList();
        Assert.Equal(["gpt-4o-mini", "gpt-4o"], threeModels);
        var fourTemperature = _llm.Requests.Last(r => r.Body.Contains("FOUR-v1", StringComparison.Ordinal)).Json!["temperature"];
        Assert.Equal(0.2, (double)fourTemperature!, 3);

        // Linked both ways; the reused steps are the source's, at $0 to the fork.
        Assert.Equal((source, "three"), ((string?)done["forked_from"]!["job_id"], (string?)done["forked_from"]!["step"]));
        var forks = (await StatusAsync(source, ct))["forks"]!.AsArray();
        Assert.Equal(fork, (string?)Assert.Single(forks)!["job_id"]);
        var reusedRows = done["steps"]!.AsArray().Where(s => s!["reused_from_job_id"] is not null).Select(s => (string)s!["step_id"]!).Order().ToList();
        Assert.Equal(["one", "two"], reusedRows);
        var breakdown = done["cost_breakdown"]!;
        Assert.Equal(["one", "two"], breakdown["reused_steps"]!.AsArray().Select(s => (string)s!["step_id"]!).Order().ToList());
        Assert.True((decimal)breakdown["reused_usd"]! > 0m);
        Assert.Equal((decimal)done["result"]!["cost_data"]!["cost_usd"]!, (decimal)breakdown["paid_usd"]!);

        var compare = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{source}/compare/{fork}", ct);
        var steps = compare!["steps"]!.AsArray().ToDictionary(s => (string)s!["step_id"]!, s => s!);
        Assert.Equal(["one", "two", "three", "four"], steps.Keys);
        Assert.True((bool)steps["one"]["other"]!["reused"]!);
        Assert.False((bool)steps["one"]["job"]!["reused"]!);
        Assert.Equal(0m, (decimal)steps["two"]["other"]!["cost_usd"]!);
        Assert.True((bool)steps["two"]["output_equal"]!);
        Assert.False((bool)steps["three"]["other"]!["reused"]!);
        Assert.Contains("gpt-4o", (string?)steps["three"]["other"]!["model"]);
        Assert.DoesNotContain("mini", (string?)steps["three"]["other"]!["model"]);
        Assert.Contains("mini", (string?)steps["three"]["job"]!["model"]);
    }

    [Fact]
    public async Task EveryBadOverrideIsA400NamingItAndAnUnfinishedSourceIsA409()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = await CompletedJobAsync("bad overrides", ct);

        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.nope.model"] = "openai/gpt-4o" } },
            "overrides[\"steps.nope.model\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.three.colour"] = "red" } },
            "overrides[\"steps.three.colour\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.three.temperature"] = "hot" } },
            "overrides[\"steps.three.temperature\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.three.model"] = 4 } },
            "overrides[\"steps.three.model\"]", ct);
        // A provider the service does not know would fail only at run time: refused now, in a fallback list too.
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.three.model"] = "nosuch/model" } },
            "overrides[\"steps.three.model\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.three.model"] = new[] { "openai/gpt-4o", "nosuch/model" } } },
            "overrides[\"steps.three.model\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["steps.one.model"] = "openai/gpt-4o" } },
            "overrides[\"steps.one.model\"]", ct);
        await AssertProblemAsync(source, new { from_step = "three", overrides = new Dictionary<string, object> { ["input_data"] = new { topic = "x" } } },
            "overrides[\"input_data\"]", ct);
        await AssertProblemAsync(source, new { from_step = "one", overrides = new Dictionary<string, object> { ["input_data"] = new { topic = 5 } } },
            "overrides[\"input_data\"].topic", ct);
        await AssertProblemAsync(source, new { from_step = "nope" }, "from_step", ct);
        await AssertProblemAsync(source, new { }, "from_step", ct);

        // From the first step, input_data may change: nothing is reused, so nothing was computed from the old input.
        using var fromFirst = await _client.PostAsJsonAsync($"/api/v1/jobs/{source}/fork",
            new { from_step = "one", overrides = new Dictionary<string, object> { ["input_data"] = new { topic = "another" } } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, fromFirst.StatusCode);
        var fork = (string)(await fromFirst.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        var done = await JobPolling.WaitForTerminalAsync(_client, $"/api/v1/status/{fork}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("another", (string?)done["input_data"]!["topic"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "ONE-v1: write one sentence about another."));

        using var scheduled = await _client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "pinned_steps", input_data = new { topic = "later" }, delay_seconds = 3600 }, ct);
        var later = (string)(await scheduled.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        using var notFinished = await _client.PostAsJsonAsync($"/api/v1/jobs/{later}/fork", new { from_step = "one" }, ct);
        Assert.Equal(HttpStatusCode.Conflict, notFinished.StatusCode);
    }

    [Fact]
    public async Task AnotherTenantCanNeitherForkNorCompareTheJobs()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = await CompletedJobAsync("tenants", ct);
        using var other = _api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", "other-tenant-key");

        using var fork = await other.PostAsJsonAsync($"/api/v1/jobs/{source}/fork", new { from_step = "three" }, ct);
        Assert.Equal(HttpStatusCode.NotFound, fork.StatusCode);
        var theirs = await PinnedDefinitionTests.SubmitAsync(other, "pinned_steps", new { topic = "theirs" }, ct);
        using var compareMineWithTheirs = await _client.GetAsync($"/api/v1/jobs/{source}/compare/{theirs}", ct);
        Assert.Equal(HttpStatusCode.NotFound, compareMineWithTheirs.StatusCode);
        using var compareFromTheirSide = await other.GetAsync($"/api/v1/jobs/{theirs}/compare/{source}", ct);
        Assert.Equal(HttpStatusCode.NotFound, compareFromTheirSide.StatusCode);
        Assert.Empty((await StatusAsync(source, ct))["forks"]!.AsArray());
    }

    private async Task AssertProblemAsync(string source, object body, string field, CancellationToken ct)
    {
        using var response = await _client.PostAsJsonAsync($"/api/v1/jobs/{source}/fork", body, ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(field), $"expected a problem for {field}; got {errors.ToJsonString()}");
    }

    private async Task<string> CompletedJobAsync(string topic, CancellationToken ct)
    {
        var job = await PinnedDefinitionTests.SubmitAsync(_client, "pinned_steps", new { topic }, ct);
        Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(_client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(30), ct))["status"]);
        return job;
    }

    private async Task<JsonObject> StatusAsync(string job, CancellationToken ct) =>
        (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{job}", ct))!;
}
