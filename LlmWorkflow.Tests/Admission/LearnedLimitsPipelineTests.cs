using System.Globalization;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Safe by default (issue 79): with no <c>Llm:Limits</c> at all, two workers learn a saturated provider's limits from
/// its <c>x-ratelimit-*</c> answers and park a refused call until the window says it fits, instead of spending
/// retries. The fake enforces tokens and requests per sliding window (a minute scaled to 5 s; <c>Llm:Admission:Window</c>
/// likewise, the operator's setting for a provider whose window is not a minute) and counts refused requests.
/// </summary>
[IntegrationTest]
public sealed class LearnedLimitsPipelineTests(TestServers servers)
{
    private const int TokensPerWindow = 3_000;
    private const int RequestsPerWindow = 8;
    private const int Jobs = 40;
    private const int Workers = 2;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(RequestsPerWindow)]
    [InlineData(0)]
    public async Task WithNoAdmissionSettingNoJobFailsAndAtMostOnePercentOfRequestsAreRefusedAfterTheFirstWindow(int requestsPerWindow)
    {
        var ct = TestContext.Current.CancellationToken;
        // 0: the provider limits tokens only (and says nothing of requests).
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(TokensPerWindow, Window, requestsPerWindow: requestsPerWindow > 0 ? requestsPerWindow : null);
        var environment = await TestEnvironment.CreateAsync(servers, "learned_limits");
        // Only the window's length (a provider's per-minute limits, scaled): no limit, no budget, no admission setting.
        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, new()
        {
            ["Llm:Admission:Window"] = Window.ToString("c", CultureInfo.InvariantCulture),
            ["Llm:Retry:MaxAttempts"] = "3",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
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
                jobs.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[learned-{i:D3}]", ct));
            }

            // At most 8 calls per 5 s: 40 jobs need 25 s; generous room for two busy cores.
            foreach (var job in jobs)
            {
                var done = await JobPolling.WaitForTerminalAsync(client, job, TimeSpan.FromSeconds(120), ct);
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
            $"{Enumerable.Range(0, Jobs).Count(i => llm.AnsweredContaining($"[learned-{i:D3}]") > 1)} answered twice, {(DateTimeOffset.UtcNow - started).TotalSeconds:F1} s, slowest job {slowest:F1} s");
        Assert.Equal(0, failed);
        Assert.True(refusedAfter <= requestsAfter / 100.0, $"{refusedAfter} of {requestsAfter} requests refused after the first window");
        for (var i = 0; i < Jobs; i++)
        {
            Assert.Equal(1, llm.AnsweredContaining($"[learned-{i:D3}]"));
        }
    }
}
