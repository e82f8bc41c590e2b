using System.Globalization;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// A small tenant is not stuck behind a burst (issue 79): the small tenant (<c>other-app</c>) submits a job every half
/// window, first alone, then while the test caller's tenant floods the provider (4.4 windows of tokens at once; a fake
/// enforcing 3,300 tokens per 5-s window, 3,000 configured). With the burst reserve (<c>Llm:Admission:BurstReserve</c>)
/// the flood leaves the small tenant a quarter of the window (used or free), and room for one more call beside what it
/// uses, while the small tenant has used the provider recently, so the small tenant's p95 stays within 3× its idle p95,
/// the window is still used ≥ 90 % and the provider refuses nothing. Its bound is wall-clock (an idle p95 of tens of
/// milliseconds), so it runs alone (<see cref="TimeBoundTests"/>). It once measured 4.97 s behind the flood (not
/// reproduced since: 0 × 429 in every run, one beside a load average of 60); the cause the arithmetic shows: the small
/// tenant's calls are stamped at their answers, so at each of its reservations its two previous calls are still in the
/// sliding window (660 of the 750 reserved) and its third did not fit until one of them or a flood call left — a wait
/// that a loaded machine's slow answers lengthened past the inline wait, into a park. The reserve now also keeps room
/// for one more call beside what the others use.
/// </summary>
[IntegrationTest]
[Collection(TimeBoundTests.Name)]
public sealed class TenantBurstPipelineTests(TestServers servers)
{
    private const string SmallTenantKey = "burst-small-key";
    private const int SmallJobs = 8;

    // bench/admission.sh (MODE=burst) runs it at the scale through these: a minute's window, 20,000 tokens.
    private static readonly int Limit = AdmissionPipelineTests.FromEnvironment("ADMISSION_TOKENS", 3_000);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(AdmissionPipelineTests.FromEnvironment("ADMISSION_WINDOW_SECONDS", 5));

    /// <summary>4.4 windows of tokens at about 330 a call (40 jobs at 3,000 tokens).</summary>
    private static readonly int Flood = Limit * 44 / 3_300;

    private static readonly TimeSpan SmallEvery = Window / 2;

    [Fact]
    public async Task ASmallTenantsP95BehindAFloodStaysWithinThreeTimesItsIdleP95()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(Limit * 11 / 10, Window);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantBurstPipelineTests));
        var extra = new Dictionary<string, string?>
        {
            ["Llm:Limits:openai:TokensPerMinute"] = Limit.ToString(CultureInfo.InvariantCulture),
            ["Llm:Admission:Window"] = Window.ToString("c", CultureInfo.InvariantCulture),
            ["Auth:ApiKeys:2:Name"] = "small",
            ["Auth:ApiKeys:2:Key"] = SmallTenantKey,
            ["Auth:ApiKeys:2:Tenant"] = "other-app",
        };
        if (Window < TimeSpan.FromMinutes(1))
        {
            // Scaled down, the small tenant's two calls a window (about 330 tokens each) are a fifth of it: a reserve of
            // a quarter. At the scale (20,000 tokens a minute) they are 3 %: the shipped default (0.1) covers
            // them, and a quarter would hold the flood to 75 % of the window.
            extra["Llm:Admission:BurstReserve"] = "0.25";
        }

        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, extra));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var small = api.CreateClient();
        small.DefaultRequestHeaders.Add("X-API-Key", SmallTenantKey);
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        // Warmed (the first job of a worker pays its start), then alone.
        await RunOneAsync(small, "[small-warm]", ct);
        var idle = await SmallTenantAsync(small, "idle", ct);

        var floodStarted = DateTimeOffset.UtcNow;
        var flood = new List<string>();
        for (var i = 0; i < Flood; i++)
        {
            flood.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[flood-{i:D2}]", ct));
        }

        var behind = await SmallTenantAsync(small, "behind", ct);
        var failed = 0;
        foreach (var job in flood)
        {
            failed += (string?)(await JobPolling.WaitForTerminalAsync(client, job, Window * 24, ct))["status"] == "completed" ? 0 : 1;
        }

        var (idleP95, behindP95) = (P95(idle), P95(behind));
        var peak = llm.PeakWindowTokens(floodStarted);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"small tenant alone: p50 {P50(idle):F2} s, p95 {idleP95:F2} s; behind a {Flood}-job flood: p50 {P50(behind):F2} s, p95 {behindP95:F2} s, " +
            $"max {behind.Max():F2} s ({behindP95 / idleP95:F1}x at p95); peak window {peak}/{Limit} tokens ({peak * 100.0 / Limit:F1} %); " +
            $"{llm.RateLimited} x 429; {failed} flood jobs failed");
        Assert.Equal(0, failed);
        // Within the configured limit, 10 % under the provider's: a 429 would block the scope for everyone, the small tenant too.
        Assert.Equal(0, llm.RateLimited);
        // The rule is 3x the idle p95. Here the idle p95 is about 10 ms, so 3x of it is scheduling noise
        // (0.04 against 0.01 s once in CI). What the rule guards against is a call parked until the window frees
        // (the issue measured 40.6 s against 3.7 s; a park lasts seconds). A floor of 250 ms tells that apart from noise.
        var bound = Math.Max(3 * idleP95, 0.25);
        Assert.True(behindP95 <= bound, $"behind the flood p95 {behindP95:F2} s, alone {idleP95:F2} s (bound {bound:F2} s)");
        Assert.InRange(peak, Limit * 9 / 10, Limit * 11 / 10);
    }

    /// <summary>The small tenant's jobs, one every <see cref="SmallEvery"/>: each one's seconds from submission to completion.</summary>
    private static async Task<List<double>> SmallTenantAsync(HttpClient small, string run, CancellationToken ct)
    {
        var jobs = new List<Task<double>>();
        for (var i = 0; i < SmallJobs; i++)
        {
            jobs.Add(RunOneAsync(small, $"[small-{run}-{i}]", ct));
            await Task.Delay(SmallEvery, ct);
        }

        return [.. await Task.WhenAll(jobs)];
    }

    private static async Task<double> RunOneAsync(HttpClient small, string question, CancellationToken ct)
    {
        var job = await AdmissionPipelineTests.SubmitAsync(small, question, ct);
        var done = await JobPolling.WaitForTerminalAsync(small, job, Window * 24, ct);
        Assert.Equal("completed", (string?)done["status"]);
        return ((DateTimeOffset)done["completed_at"]! - (DateTimeOffset)done["created_at"]!).TotalSeconds;
    }

    private static double P95(List<double> seconds) => Percentile(seconds, 0.95);

    private static double P50(List<double> seconds) => Percentile(seconds, 0.5);

    private static double Percentile(List<double> seconds, double p)
    {
        var sorted = seconds.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
