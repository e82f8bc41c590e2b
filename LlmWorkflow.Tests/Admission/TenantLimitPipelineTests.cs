using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// A tenant's own LLM limits (<c>Tenants:&lt;id&gt;:Limits:…</c>) and its per-user limits (<c>PerUserLimits</c>) over
/// every worker, on real servers with two workers and a fake OpenAI: the test caller's tenant (<c>tests</c>) may make
/// two requests per two-second window (the tenant <c>other-app</c> has no limit of its own), or each of its users one.
/// </summary>
[IntegrationTest]
public sealed class TenantLimitPipelineTests(TestServers servers)
{
    private const string OtherTenantKey = "other-tenant-key";
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ATenantsRequestLimitHoldsOverTwoWorkersWithoutHoldingBackAnotherTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantLimitPipelineTests));
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:Limits:RequestsPerMinute"] = "2",
            ["Llm:Admission:Window"] = "00:00:02",
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var other = api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var limited = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            limited.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[limited-{i}]", ct));
        }

        var free = await AdmissionPipelineTests.SubmitAsync(other, "[other-0]", ct);
        var freeDone = await JobPolling.WaitForTerminalAsync(other, free, JobTimeout, ct);
        var ended = new List<JsonObject>();
        foreach (var job in limited)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        AssertLimitedWithoutHoldingBackTheOther(llm, "[limited-", "[other-0]", perWindow: 2, ended, freeDone, "a tenant", "the other tenant");
    }

    [Fact]
    public async Task AUsersRequestLimitHoldsOverTwoWorkersWithoutHoldingBackAnotherUserOfTheTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(10_000_000, TimeSpan.FromMinutes(1));
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AUsersRequestLimitHoldsOverTwoWorkersWithoutHoldingBackAnotherUserOfTheTenant));
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>
        {
            ["Tenants:tests:PerUserLimits:RequestsPerMinute"] = "1",
            ["Llm:Admission:Window"] = "00:00:02",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var busy = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            busy.Add(await SubmitAsUserAsync(client, "busy user", $"[busy-{i}]", ct));
        }

        var other = await SubmitAsUserAsync(client, "other user", "[other-0]", ct);
        var otherDone = await JobPolling.WaitForTerminalAsync(client, other, JobTimeout, ct);
        var ended = new List<JsonObject>();
        foreach (var job in busy)
        {
            ended.Add(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct));
        }

        AssertLimitedWithoutHoldingBackTheOther(llm, "[busy-", "[other-0]", perWindow: 1, ended, otherDone, "a user", "another user of the tenant");
    }

    /// <summary>
    /// The limited jobs all completed with one call each, at most <paramref name="perWindow"/> per window and spread
    /// over the windows they need; the other job completed and its call waited for none of them; no 429.
    /// </summary>
    private static void AssertLimitedWithoutHoldingBackTheOther(
        FakeRateLimitedOpenAiServer llm, string limitedMarker, string otherMarker, int perWindow, List<JsonObject> ended, JsonObject otherDone, string limited, string theOther)
    {
        var calls = llm.Accepted.Where(c => c.Body.Contains(limitedMarker, StringComparison.Ordinal)).Select(c => c.At).Order().ToList();
        var peak = calls.Max(at => calls.Count(c => c >= at && c < at + Window));
        var otherCall = llm.Accepted.Single(c => c.Body.Contains(otherMarker, StringComparison.Ordinal)).At;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{ended.Count} jobs of {limited} limited to {perWindow} request(s) per {Window.TotalSeconds} s: peak {peak} in a window, calls over " +
            $"{(calls[^1] - calls[0]).TotalSeconds:F1} s; {theOther}'s call came {(otherCall - calls[0]).TotalSeconds:F1} s after the first");
        Assert.All(ended, j => Assert.Equal("completed", (string?)j["status"]));
        Assert.Equal("completed", (string?)otherDone["status"]);
        Assert.Equal(ended.Count, calls.Count);
        Assert.True(peak <= perWindow, $"{peak} calls of {limited} within one window");
        // The calls at perWindow per window take at least the windows after the first; the other's call waited for none.
        var windowsAfterTheFirst = (ended.Count + perWindow - 1) / perWindow - 1;
        Assert.True(calls[^1] - calls[0] >= Window * windowsAfterTheFirst, $"the calls of {limited} were not spread over the windows");
        Assert.True(otherCall < calls[^1], $"{theOther}'s call waited behind the calls of {limited}");
        Assert.Equal(0, llm.RateLimited);
    }

    private static async Task<string> SubmitAsUserAsync(HttpClient client, string userId, string question, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "budgeted_llm_step", input_data = new { question }, user_id = userId }, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["status_url"]!;
    }
}
