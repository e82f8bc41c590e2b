using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// What an operator does in a provider outage, through the API against real PostgreSQL, Redis, a Worker and a fake
/// OpenAI-compatible provider: pause a workflow (new jobs are accepted and held as scheduled, costing no worker
/// slot; resume queues them), read the provider health view while the provider answers 503 (error rate, last errors,
/// the open circuit), and retry the failed jobs by filter after a dry count — each retried job then lists both
/// attempts' traces, the latest as its trace_id.
/// </summary>
[IntegrationTest]
public sealed class OperatorControlsTests(TestServers servers)
{
    [Fact]
    public async Task APausedWorkflowHoldsNewJobsAndItsResumeRunsThem()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        await using var rig = await Rig.StartAsync(servers, nameof(APausedWorkflowHoldsNewJobsAndItsResumeRunsThem), llm, ct);

        using (var refused = await rig.Caller.PostAsJsonAsync("/api/v1/workflows/one_llm_step/pause", new { }, ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var unknown = await rig.Admin.PostAsJsonAsync("/api/v1/workflows/no_such_workflow/pause", new { }, ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        var paused = await rig.PostAsync("/api/v1/workflows/one_llm_step/pause", new { reason = "provider outage" }, ct);
        Assert.True((bool)paused["paused"]!, paused.ToJsonString());

        var held = await rig.SubmitAsync("one_llm_step", new { question = "held" }, ct);
        Assert.Equal("scheduled", (string?)held["status"]);

        // Another workflow runs meanwhile: the worker (and its due-job waker) is alive, and still holds the paused one.
        var other = await rig.SubmitAsync("two_transforms", new { name = "other" }, ct);
        Assert.Equal("completed", (string?)(await rig.WaitForTerminalAsync(other, ct))["status"]);
        Assert.Equal("scheduled", (string?)(await rig.StatusAsync(held, ct))["status"]);
        Assert.Equal(0, llm.CallCount);

        var pauses = await rig.Admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/pauses", ct);
        var pause = Assert.Single(pauses!["paused"]!.AsArray())!;
        Assert.Equal(("one_llm_step", 1, "provider outage"), ((string?)pause["workflow_name"], (int)pause["held_jobs"]!, (string?)pause["reason"]));

        var resumed = await rig.PostAsync("/api/v1/workflows/one_llm_step/resume", new { }, ct);
        Assert.False((bool)resumed["paused"]!);
        var done = await rig.WaitForTerminalAsync(held, ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Empty((await rig.Admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/pauses", ct))!["paused"]!.AsArray());
    }

    [Fact]
    public async Task AnOutageShowsInProviderHealthAndItsFailedJobsAreRetriedByFilterAfterACount()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        await using var rig = await Rig.StartAsync(servers, nameof(AnOutageShowsInProviderHealthAndItsFailedJobsAreRetriedByFilterAfterACount), llm, ct,
            new Dictionary<string, string?>
            {
                ["Llm:CircuitBreaker:MinimumThroughput"] = "2",
                ["Llm:CircuitBreaker:FailureRatio"] = "0.5",
                ["Llm:CircuitBreaker:BreakDuration"] = "00:00:02",
                // This test is about failed jobs retried by filter: the outage breaker, which parks them instead, stays closed.
                ["Llm:Outage:ConsecutiveFailures"] = "1000",
            });

        // A job failed for another reason stays failed: the filter names the outage's error type.
        llm.EnqueueError(401, "bad key");
        var unrelated = await rig.SubmitAsync("one_llm_step", new { question = "key" }, ct);
        Assert.Equal("invalid_api_key", (string?)(await rig.WaitForTerminalAsync(unrelated, ct))["error"]!["type"]);

        llm.OutageStatus = 503;
        var failed = new List<JsonObject>();
        foreach (var question in new[] { "one", "two", "three" })
        {
            var job = await rig.SubmitAsync("one_llm_step", new { question }, ct);
            var done = await rig.WaitForTerminalAsync(job, ct);
            Assert.Equal(("failed", "provider_unavailable"), ((string?)done["status"], (string?)done["error"]!["type"]));
            Assert.Contains("Providers view", (string?)done["error"]!["advice"]);
            failed.Add(done);
        }

        var health = await WaitForAsync(rig, "/api/v1/admin/providers/health",
            h => h["providers"]!.AsArray().FirstOrDefault(p => (string?)p!["provider"] == "openai") is { } p && (int)p["failures"]! >= 3, ct);
        var openai = health["providers"]!.AsArray().Single(p => (string?)p!["provider"] == "openai")!;
        Assert.Equal(4, (int)openai["calls"]!);
        Assert.NotNull((string?)openai["advice"]);
        Assert.Contains((string?)openai["circuit_state"], new[] { "open", "half_open" });
        var model = openai["models"]!.AsArray().Single()!;
        Assert.Equal("gpt-4o-mini", (string?)model["model"]);
        // The 401 failed too (it is no outage, and the breaker does not count it, but it is an error of the model).
        Assert.Equal(1.0, (double)model["error_rate"]!, 2);
        Assert.Equal(1, (int)model["failures_by_type"]!["invalid_api_key"]!);
        var lastError = model["last_errors"]!.AsArray()[0]!;
        Assert.Equal("provider_unavailable", (string?)lastError["type"]);

        // Refused: no filter at all, a status a retry cannot start from.
        await rig.ExpectProblemAsync(new { dry_run = true }, "filter", ct);
        await rig.ExpectProblemAsync(new { filter = new { status = new[] { "completed" }, error_type = "provider_unavailable" }, dry_run = true }, "filter.status", ct);

        // The outage's window: a probe refused by a half-open breaker after it (below) is not one of these jobs.
        var filter = new
        {
            error_type = "provider_unavailable",
            provider = "openai",
            since = failed.Min(j => (DateTimeOffset)j["created_at"]!),
            until = failed.Max(j => (DateTimeOffset)j["completed_at"]!).AddMilliseconds(1),
        };
        var count = await rig.PostAsync("/api/v1/jobs/retry", new { filter, dry_run = true }, ct);
        Assert.Equal(3, (int)count["matched"]!);
        Assert.Equal(0, (int)count["retried"]!);
        Assert.Equal(failed.Select(j => (string?)j["job_id"]).Order(), count["job_ids"]!.AsArray().Select(id => (string?)id).Order());

        // Another tenant matches none of them.
        using (var other = await rig.OtherTenant.PostAsJsonAsync("/api/v1/jobs/retry", new { filter, dry_run = true }, ct))
        {
            Assert.Equal(0, (int)(await other.Content.ReadFromJsonAsync<JsonObject>(ct))!["matched"]!);
        }

        // The outage ends; a half-open breaker lets one probe through and refuses the rest, so a probe job closes it
        // before the retry (what an operator waits for in the Providers view).
        llm.OutageStatus = null;
        for (var probe = 0; ; probe++)
        {
            await WaitForAsync(rig, "/api/v1/admin/providers/health",
                h => h["providers"]!.AsArray().Single(p => (string?)p!["provider"] == "openai")!["circuit_state"]!.GetValue<string>() != "open", ct);
            var answered = await rig.WaitForTerminalAsync(await rig.SubmitAsync("one_llm_step", new { question = "probe" }, ct), ct);
            if ((string?)answered["status"] == "completed")
            {
                break;
            }

            Assert.True(probe < 10, "No probe got through the breaker after the outage ended.");
        }

        var retried = await rig.PostAsync("/api/v1/jobs/retry", new { filter, dry_run = false }, ct);
        Assert.Equal(3, (int)retried["retried"]!);
        foreach (var job in failed)
        {
            var done = await rig.WaitForTerminalAsync(job, ct);
            Assert.Equal("completed", (string?)done["status"]);
            var traces = done["attempt_traces"]!.AsArray();
            Assert.Equal([1, 2], traces.Select(t => (int)t!["attempt"]!));
            Assert.NotEqual((string?)traces[0]!["trace_id"], (string?)traces[1]!["trace_id"]);
            Assert.Equal((string?)traces[1]!["trace_id"], (string?)done["trace_id"]);
        }

        Assert.Equal("failed", (string?)(await rig.StatusAsync(unrelated, ct))["status"]);
    }

    private static async Task<JsonObject> WaitForAsync(Rig rig, string path, Func<JsonObject, bool> condition, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var body = (await rig.Admin.GetFromJsonAsync<JsonObject>(path, ct))!;
            if (condition(body))
            {
                return body;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"{path} never matched: {body.ToJsonString()}");
            // The workers report with their heartbeat (every 5 s); a short wait between reads of the view.
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }

    private sealed class Rig : IAsyncDisposable
    {
        private const string OtherTenantKey = "test-other-tenant-key";

        private readonly ApiFactory _api;
        private WorkerHost? _worker;

        private Rig(Dictionary<string, string?> settings)
        {
            _api = new ApiFactory(settings);
            Admin = _api.CreateAuthenticatedClient(admin: true);
            Caller = _api.CreateAuthenticatedClient();
            OtherTenant = _api.CreateClient();
            OtherTenant.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        }

        public HttpClient Admin { get; }

        public HttpClient Caller { get; }

        public HttpClient OtherTenant { get; }

        public static async Task<Rig> StartAsync(TestServers servers, string name, FakeOpenAiServer llm, CancellationToken ct, IDictionary<string, string?>? extra = null)
        {
            var environment = await TestEnvironment.CreateAsync(servers, name);
            var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>(extra ?? new Dictionary<string, string?>())
            {
                ["Auth:ApiKeys:2:Name"] = "other-tenant",
                ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
                ["Auth:ApiKeys:2:Tenant"] = "other-app",
            }));
            var rig = new Rig(settings);
            rig._worker = await WorkerHost.StartAsync(settings, ct);
            return rig;
        }

        public async Task<JsonObject> SubmitAsync(string workflow, object input, CancellationToken ct)
        {
            using var response = await Caller.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = workflow, input_data = input }, ct);
            var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
            return answer!;
        }

        public async Task<JsonObject> PostAsync(string path, object body, CancellationToken ct)
        {
            using var response = await (path.Contains("/workflows/", StringComparison.Ordinal) ? Admin : Caller).PostAsJsonAsync(path, body, ct);
            var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, answer?.ToJsonString());
            return answer!;
        }

        public async Task ExpectProblemAsync(object body, string field, CancellationToken ct)
        {
            using var response = await Caller.PostAsJsonAsync("/api/v1/jobs/retry", body, ct);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem?.ToJsonString());
            Assert.Contains(field, problem!["errors"]!.AsObject().Select(e => e.Key));
        }

        public async Task<JsonObject> StatusAsync(JsonObject accepted, CancellationToken ct) =>
            (await Caller.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{accepted["job_id"]}", ct))!;

        public Task<JsonObject> WaitForTerminalAsync(JsonObject accepted, CancellationToken ct) =>
            JobPolling.WaitForTerminalAsync(Caller, $"/api/v1/jobs/{accepted["job_id"]}", TimeSpan.FromSeconds(60), ct);

        public async ValueTask DisposeAsync()
        {
            if (_worker is not null)
            {
                await _worker.DisposeAsync();
            }

            Admin.Dispose();
            Caller.Dispose();
            OtherTenant.Dispose();
            await _api.DisposeAsync();
        }
    }
}
