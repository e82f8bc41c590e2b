using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// <c>Tenants:&lt;id&gt;:MaxConcurrentJobs</c> on real servers with two workers of eight slots each and a fake provider
/// answering every call after <see cref="Latency"/>. The test caller's tenant (<c>tests</c>) is capped at 2; the tenant
/// <c>small-app</c> has no cap.
/// </summary>
[IntegrationTest]
public sealed class TenantConcurrencyPipelineTests(TestServers servers) : IAsyncLifetime
{
    private const string SmallTenantKey = "small-tenant-key";
    private const int Cap = 2;
    private const int Backlog = 30;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    private FakeOpenAiServer _llm = null!;
    private ApiFactory _api = null!;
    private WorkerHost _first = null!;
    private WorkerHost _second = null!;
    private HttpClient _client = null!;
    private HttpClient _small = null!;
    private string _postgres = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _llm = await FakeOpenAiServer.StartAsync();
        _llm.Latency = Latency;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantConcurrencyPipelineTests));
        _postgres = environment.PostgresConnectionString;
        var settings = environment.Settings(PipelineTestWorkflows.Settings(_llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:MaxConcurrentJobs"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Worker:MaxConcurrentJobs"] = "8",
            ["Worker:ReconcileInterval"] = "00:00:02",
            ["Auth:ApiKeys:2:Name"] = "small",
            ["Auth:ApiKeys:2:Key"] = SmallTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "small-app",
        }));
        _api = new ApiFactory(settings);
        _client = _api.CreateAuthenticatedClient();
        _small = _api.CreateClient();
        _small.DefaultRequestHeaders.Add("X-API-Key", SmallTenantKey);
        _first = await WorkerHost.StartAsync(settings, ct);
        _second = await WorkerHost.StartAsync(settings, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _second.DisposeAsync();
        await _first.DisposeAsync();
        _small.Dispose();
        _client.Dispose();
        await _api.DisposeAsync();
        await _llm.DisposeAsync();
    }

    [Fact]
    public async Task ACappedTenantsBacklogRunsAtMostItsCapOverTwoWorkersAndDoesNotHoldBackAnotherTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        var backlog = new List<string>();
        for (var i = 0; i < Backlog; i++)
        {
            backlog.Add(await SubmitAsync(_client, $"[big-{i:D2}]", priority: 0, ct));
        }

        // The last of the backlog, at a higher priority, is the next to get a freed slot.
        var urgent = await SubmitAsync(_client, "[big-urgent]", priority: 5, ct);
        var parked = await WaitForSlotWaitAsync(ct);
        Assert.Equal(("slot", ""), ((string?)parked["waiting_for"]!["kind"], (string?)parked["waiting_for"]!["step_id"]));
        // Past the cap the backlog waits from its submission (the API counts the tenant's queued and running jobs), so
        // it never enters the dispatch stream ahead of the other tenant's job; a claim parks only what slipped past.
        var heldAtSubmit = (long)(await TestSql.ScalarAsync(_postgres, "SELECT count(*) FROM llm_workflow_jobs WHERE wait_data->'slot'->>'at' = 'submit'", ct))!;
        Assert.True(heldAtSubmit >= Backlog / 2, $"{heldAtSubmit} of {Backlog + 1} jobs were held from their submission");

        var smallSubmitted = DateTimeOffset.UtcNow;
        var smallJob = await SubmitAsync(_small, "[small-0]", priority: 0, ct);
        var small = await JobPolling.WaitForTerminalAsync(_small, smallJob, JobTimeout, ct);
        var smallTook = DateTimeOffset.UtcNow - smallSubmitted;
        var unfinishedThen = await CountUnfinishedAsync(ct);

        var ended = new List<JsonObject>();
        foreach (var job in backlog.Append(urgent))
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(_client, job, JobTimeout, ct));
        }

        var calls = _llm.Requests.Where(r => r.Body.Contains("[big-", StringComparison.Ordinal)).OrderBy(r => r.ReceivedAt).ToList();
        var peak = calls.Max(r => calls.Count(q => q.ReceivedAt <= r.ReceivedAt && r.ReceivedAt < q.ReceivedAt + Latency));
        var urgentStarted = calls.FindIndex(r => r.Body.Contains("[big-urgent]", StringComparison.Ordinal));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Backlog + 1} jobs of a tenant capped at {Cap}: peak {peak} calls at once; the other tenant's job took {smallTook.TotalMilliseconds:F0} ms " +
            $"with {unfinishedThen} of the backlog unfinished; the urgent job's call was #{urgentStarted + 1}");
        Assert.Equal("completed", (string?)small["status"]);
        Assert.All(ended, j => Assert.Equal("completed", (string?)j["status"]));
        Assert.True(peak <= Cap, $"{peak} calls of the capped tenant at once");
        Assert.Equal(Backlog + 1, calls.Count);
        Assert.All(backlog, (_, i) => Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, $"[big-{i:D2}]")));
        // The backlog takes at least Backlog / Cap × Latency (4.5 s); the other tenant's job waited behind none of it.
        Assert.True(unfinishedThen >= Backlog / 3, $"only {unfinishedThen} of the backlog were unfinished when the other tenant's job ended ({smallTook})");
        // Claimed before the earlier jobs still waiting then: at most the jobs running or already queued went first.
        Assert.True(urgentStarted < Backlog / 2, $"the urgent job's call was #{urgentStarted + 1} of {calls.Count}");
    }

    [Fact]
    public async Task ASlotWaitWhoseReleaseWasLostIsQueuedByTheReconciler()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await _client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "one_llm_step", input_data = new { question = "[lost-release]" }, delay_seconds = 3600 }, ct);
        var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

        // What a worker killed between a job's end and the wake of the next would leave: a slot wait and no running job.
        await TestSql.ExecuteAsync(_postgres, $$"""
            UPDATE llm_workflow_jobs SET status = 'waiting', run_at = NULL, queued_at = now(),
                   wait_data = jsonb_build_object('kind', '{{JobLifecycleStore.SlotWaitKind}}', 'step_id', '', 'step_key', '', 'until', now(),
                                              'slot', jsonb_build_object('by', 'tenant', 'tenant_id', tenant_id), 'resumes', NULL)
             WHERE id = @job
            """, ct, ("job", Guid.Parse(jobId)));

        var done = await JobPolling.WaitForTerminalAsync(_client, $"/api/v1/status/{jobId}", JobTimeout, ct);

        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(_llm, "[lost-release]"));
    }

    [Fact]
    public async Task AConcurrencyKeyRunsOneJobPerUserAtATimeAndUsersInParallel()
    {
        var ct = TestContext.Current.CancellationToken;
        var jobs = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            foreach (var user in new[] { "ann", "bob" })
            {
                jobs.Add(await SubmitKeyedAsync(_small, new { user, question = $"[keyed-{user}-{i}]" }, ct));
            }
        }

        var ended = new List<JsonObject>();
        foreach (var job in jobs)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(_small, job, JobTimeout, ct));
        }

        var calls = _llm.Requests.Where(r => r.Body.Contains("[keyed-", StringComparison.Ordinal)).OrderBy(r => r.ReceivedAt).ToList();
        int Peak(IReadOnlyList<Fakes.RecordedRequest> of) => of.Max(r => of.Count(q => q.ReceivedAt <= r.ReceivedAt && r.ReceivedAt < q.ReceivedAt + Latency));
        var perUser = new[] { "ann", "bob" }.ToDictionary(u => u, u => Peak([.. calls.Where(c => c.Body.Contains($"[keyed-{u}-", StringComparison.Ordinal))]));
        TestContext.Current.TestOutputHelper?.WriteLine($"peak calls at once: ann {perUser["ann"]}, bob {perUser["bob"]}, both {Peak(calls)}");
        Assert.All(ended, j => Assert.Equal("completed", (string?)j["status"]));
        Assert.Equal(8, calls.Count);
        Assert.Equal((1, 1), (perUser["ann"], perUser["bob"]));
        Assert.Equal(2, Peak(calls));
    }

    [Fact]
    public async Task AJobWithoutAValueForItsConcurrencyKeyOrAnInvalidLimitIsRefusedNamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        using var missing = await _small.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "keyed_llm_step", input_data = new { question = "who?" } }, ct);
        var problem = await missing.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("${input.user}", (string?)problem!["errors"]!["input_data"]![0], StringComparison.Ordinal);

        var workflow = JsonNode.Parse("""
            {"name": "bad_key", "concurrency": {"key": "${steps.a.output}", "limit": 0},
             "steps": [{"id": "a", "type": "transform", "config": {"operation": "uppercase", "input": "x"}}]}
            """);
        using var invalid = await _small.PostAsJsonAsync("/api/v1/workflow/validate", new { workflow, input_data = new { } }, ct);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonObject>(ct))!["errors"]!.AsObject();
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("between 1 and", (string?)errors["workflow.concurrency.limit"]![0], StringComparison.Ordinal);
        Assert.Contains("input and context only", (string?)errors["workflow.concurrency.key"]![0], StringComparison.Ordinal);
    }

    private static async Task<string> SubmitKeyedAsync(HttpClient client, object input, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "keyed_llm_step", input_data = input }, ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }

    private async Task<JsonObject> WaitForSlotWaitAsync(CancellationToken ct)
    {
        JsonObject? found = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            var list = await _client.GetFromJsonAsync<JsonObject>("/api/v1/jobs?status_filter=waiting&limit=1", ct);
            if (list!["jobs"]!.AsArray().FirstOrDefault() is { } job)
            {
                found = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{(string?)job["job_id"]}", ct);
            }

            // A freed slot may have queued the listed job before its read: then another waiting one is read.
            return (string?)found?["status"] == "waiting";
        }, JobTimeout);
        return found!;
    }

    /// <summary>The capped tenant's jobs not yet ended, in one read (so the count is of one moment).</summary>
    private async Task<int> CountUnfinishedAsync(CancellationToken ct) =>
        (int)(long)(await TestSql.ScalarAsync(_postgres,
            "SELECT count(*) FROM llm_workflow_jobs WHERE tenant_id = 'tests' AND status NOT IN ('completed', 'failed', 'cancelled')", ct))!;

    private static async Task<string> SubmitAsync(HttpClient client, string question, int priority, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "one_llm_step", input_data = new { question }, priority }, ct);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }
}
