using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Fair shares of a provider's token window on real servers (two workers, a fake OpenAI enforcing 3,000 tokens per
/// 5-second window, about 330 tokens a call): the test caller's tenant (<c>tests</c>, weight 1) queues a backlog of
/// several windows' tokens, then the tenant <c>other-app</c> (weight 2) submits a few jobs; theirs run on the first
/// capacity that frees instead of behind the backlog, and the provider never answers 429. The same one level down:
/// the backlog is user <c>heavy</c>'s, the few jobs user <c>light</c>'s (weight 2) of the same tenant.
/// </summary>
[IntegrationTest]
public sealed class FairSharePipelineTests(TestServers servers)
{
    private const string OtherTenantKey = "fair-other-key";
    private const int Backlog = 36;
    private const int OtherJobs = 3;
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("tenants")]
    [InlineData("users")]
    public async Task AnotherTenantsOrUsersJobsDoNotWaitBehindABacklog(string between)
    {
        var ct = TestContext.Current.CancellationToken;
        var betweenUsers = between == "users";
        // The fake counts a call when it arrives, the service when it reserves (then re-stamps it at the answer): on a
        // loaded machine the two windows drift by a call's transit, so the provider allows 10 % over the configured
        // budget, the margin an operator keeps below a real provider's limit.
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(3_300, Window);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(FairSharePipelineTests));
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new Dictionary<string, string?>
        {
            ["Llm:Limits:openai:TokensPerMinute"] = "3000",
            ["Llm:Admission:Window"] = "00:00:05",
            ["Tenants:other-app:Weight"] = "2",
            ["Auth:ApiKeys:2:Name"] = "other",
            ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
            ["Tenants:tests:UserWeights:light"] = "2",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var admin = api.CreateAuthenticatedClient(admin: true);
        using var other = api.CreateClient();
        other.DefaultRequestHeaders.Add("X-API-Key", OtherTenantKey);
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var backlog = new List<string>();
        for (var i = 0; i < Backlog; i++)
        {
            backlog.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[backlog-{i:D2}]", ct, userId: betweenUsers ? "heavy" : null));
        }

        // The other tenant (or user) arrives once the backlog has filled the provider's window.
        await WaitUntilAsync(() => llm.Accepted.Count >= 8, JobTimeout, ct);
        var submitted = DateTimeOffset.UtcNow;
        var others = new List<string>();
        var otherClient = betweenUsers ? client : other;
        for (var i = 0; i < OtherJobs; i++)
        {
            others.Add(await AdmissionPipelineTests.SubmitAsync(otherClient, $"[other-{i}]", ct, userId: betweenUsers ? "light" : null));
        }

        foreach (var job in others)
        {
            Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(otherClient, job, JobTimeout, ct))["status"]);
        }

        var scope = (await admin.GetFromJsonAsync<JsonObject>("/api/v1/providers/limits", ct))!["scopes"]!.AsArray().Single(s => (string?)s!["scope"] == "openai")!;
        foreach (var job in backlog)
        {
            Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct))["status"]);
        }

        var backlogCalls = llm.Accepted.Where(c => c.Body.Contains("[backlog-", StringComparison.Ordinal)).Select(c => c.At).Order().ToList();
        var otherCalls = llm.Accepted.Where(c => c.Body.Contains("[other-", StringComparison.Ordinal)).Select(c => c.At).Order().ToList();
        var backlogAfter = backlogCalls.Count(at => at > otherCalls[^1]);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Backlog} backlog jobs, {OtherJobs} of the other {(betweenUsers ? "user" : "tenant")} (weight 2) submitted {(submitted - backlogCalls[0]).TotalSeconds:F1} s after the first call: " +
            $"their calls answered {(otherCalls[0] - submitted).TotalSeconds:F1}–{(otherCalls[^1] - submitted).TotalSeconds:F1} s after submission, with {backlogAfter} " +
            $"of the backlog's calls still to come (the backlog's last {(backlogCalls[^1] - submitted).TotalSeconds:F1} s after); {llm.RateLimited} x 429; " +
            $"openai scope's tenants then: {scope["tenants"]?.ToJsonString()}");
        foreach (var (at, used, tokens, body) in llm.RateLimitedCalls)
        {
            var marker = System.Text.RegularExpressions.Regex.Match(body, @"\[(backlog|other)-\d+\]").Value;
            TestContext.Current.TestOutputHelper?.WriteLine($"  429 at {(at - submitted).TotalSeconds:F2} s after the other's submission: {marker}, {used} + {tokens} tokens over 3300");
        }

        Assert.Equal(OtherJobs, otherCalls.Count);
        Assert.Equal(Backlog, backlogCalls.Count);
        Assert.True(backlogAfter >= Backlog / 2, $"the other tenant's calls came after {Backlog - backlogAfter} of the backlog's {Backlog}");
        // Its fair wait: the capacity the backlog held when it arrived frees within a window; it waited for no more.
        Assert.True(otherCalls[^1] - submitted < Window * 1.5, $"the other tenant's last call came {otherCalls[^1] - submitted} after its submission");
        Assert.Equal(0, llm.RateLimited);
        var shares = scope["tenants"]!.AsArray().ToDictionary(t => (string)t!["tenant_id"]!, t => t!);
        Assert.Equal(1, (double)shares["tests"]["weight"]!);
        if (!betweenUsers)
        {
            Assert.Equal(2, (double)shares["other-app"]["weight"]!);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(50, ct);
        }
    }
}
