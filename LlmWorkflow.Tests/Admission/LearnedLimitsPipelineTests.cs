using System.Globalization;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Safe by default (issue 79): with no <c>Llm:Limits</c> at all, two workers learn a saturated provider's limits from
/// its <c>x-ratelimit-*</c> answers and park a refused call until the window says it fits, instead of spending
/// retries. The fake enforces tokens and requests per sliding window (a minute scaled to 5 s; <c>Llm:Admission:Window</c>
/// likewise, the operator's setting for a provider whose window is not a minute) and counts refused requests. Every
/// eighth job is a second tenant's, as in the issue's run (so the shipped burst reserve is in play too).
/// </summary>
[IntegrationTest]
public sealed class LearnedLimitsPipelineTests(TestServers servers)
{
    // bench/admission.sh (MODE=defaults) runs it at the issue's scale through these: 175 jobs, 20,000 tokens and 60
    // requests per minute.
    private static readonly int TokensPerWindow = AdmissionPipelineTests.FromEnvironment("ADMISSION_TOKENS", 3_000);
    private static readonly int RequestsPerWindow = AdmissionPipelineTests.FromEnvironment("ADMISSION_REQUESTS", 8);
    private static readonly int Jobs = AdmissionPipelineTests.FromEnvironment("ADMISSION_JOBS", 40);
    private static readonly int Workers = AdmissionPipelineTests.FromEnvironment("ADMISSION_WORKERS", 2);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(AdmissionPipelineTests.FromEnvironment("ADMISSION_WINDOW_SECONDS", 5));

    /// <summary>Every eighth job is the small tenant's (<c>other-app</c>), as in the issue's run: a flood and a small tenant.</summary>
    private const int SmallTenantEvery = 8;

    private const string SmallTenantKey = "learned-small-key";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WithNoAdmissionSettingNoJobFailsAndAtMostOnePercentOfRequestsAreRefusedAfterTheFirstWindow(bool providerLimitsRequests)
    {
        var ct = TestContext.Current.CancellationToken;
        // false: the provider limits tokens only (and says nothing of requests).
        var requestsPerWindow = providerLimitsRequests ? RequestsPerWindow : 0;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(TokensPerWindow, Window, requestsPerWindow: providerLimitsRequests ? RequestsPerWindow : null);
        var environment = await TestEnvironment.CreateAsync(servers, "learned_limits");
        // Only the window's length when scaled (a provider's per-minute limits): no limit, no budget, no admission setting.
        var extra = new Dictionary<string, string?>
        {
            ["Llm:Retry:MaxAttempts"] = "3",
            ["Auth:ApiKeys:2:Name"] = "small",
            ["Auth:ApiKeys:2:Key"] = SmallTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        };
        if (Window != TimeSpan.FromMinutes(1))
        {
            extra["Llm:Admission:Window"] = Window.ToString("c", CultureInfo.InvariantCulture);
        }

        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, extra));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var small = api.CreateClient();
        small.DefaultRequestHeaders.Add("X-API-Key", SmallTenantKey);
        var workers = new List<WorkerHost>();
        var started = DateTimeOffset.UtcNow;
        var failed = 0;
        var slowest = 0.0;
        try
        {
            for (var i = 0; i < Workers; i++)
            {
                workers.Add(await WorkerHost.StartAsync(settings, ct));
            }

            var jobs = new List<string>();
            for (var i = 0; i < Jobs; i++)
            {
                jobs.Add(await AdmissionPipelineTests.SubmitAsync(i % SmallTenantEvery == SmallTenantEvery - 1 ? small : client, $"[learned-{i:D3}]", ct));
            }

            // At most 8 calls per 5 s: 40 jobs need 25 s; generous room for two busy cores.
            var timeout = TimeSpan.FromSeconds(60) + (Window * (2 + (Jobs / RequestsPerWindow) + (Jobs * 330 / TokensPerWindow)));
            for (var i = 0; i < Jobs; i++)
            {
                var done = await JobPolling.WaitForTerminalAsync(i % SmallTenantEvery == SmallTenantEvery - 1 ? small : client, jobs[i], timeout, ct);
                failed += (string?)done["status"] == "completed" ? 0 : 1;
                slowest = Math.Max(slowest, ((DateTimeOffset)done["completed_at"]! - (DateTimeOffset)done["created_at"]!).TotalSeconds);
            }
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }

        var first = llm.Accepted.Select(c => c.At).Concat(llm.RateLimitedAt).Min();
        var refusedAfter = llm.RateLimitedAt.Count(at => at >= first + Window);
        var requestsAfter = llm.Accepted.Count(c => c.At >= first + Window) + refusedAfter;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"no admission setting, {Workers} workers, {Jobs} jobs, {TokensPerWindow} tokens and {requestsPerWindow} requests per {Window.TotalSeconds} s: " +
            $"{failed} failed, {llm.RateLimited} x 429 in all, {llm.RateLimitedAt.Count(at => at < first + Window)} in the first window, " +
            $"{refusedAfter} of {requestsAfter} requests after it ({refusedAfter * 100.0 / Math.Max(1, requestsAfter):F1} %), " +
            $"{Enumerable.Range(0, Jobs).Count(i => llm.AnsweredContaining($"[learned-{i:D3}]") > 1)} answered twice, {(DateTimeOffset.UtcNow - started).TotalSeconds:F1} s, slowest job {slowest:F1} s; " +
            $"busiest window {llm.PeakWindowTokens()} of {TokensPerWindow} tokens");
        Assert.Equal(0, failed);
        Assert.True(refusedAfter <= requestsAfter / 100.0, $"{refusedAfter} of {requestsAfter} requests refused after the first window");
        for (var i = 0; i < Jobs; i++)
        {
            Assert.Equal(1, llm.AnsweredContaining($"[learned-{i:D3}]"));
        }
    }
}
