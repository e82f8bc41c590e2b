using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Outages park, not fail (issue 79), on shortened timings: a provider answers 500 to everything, then nothing at all,
/// then comes back. The shared outage breaker opens within seconds (3 failures in a row, whatever the pace), the steps
/// park (waiting_for.reason "outage", no slot) instead of failing, the health endpoint says the provider is out while it
/// is, and every job completes after the provider returns, each call answered once.
/// </summary>
[IntegrationTest]
public sealed class ProviderOutagePipelineTests(TestServers servers)
{
    // bench/admission.sh (MODE=outage) runs it at the issue's scale through these: 100 jobs, 60 s of 500s and 60 s of
    // silence, a 20-s attempt timeout and the shipped probe intervals.
    private static readonly int Jobs = AdmissionPipelineTests.FromEnvironment("ADMISSION_JOBS", 16);
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(AdmissionPipelineTests.FromEnvironment("ADMISSION_OUTAGE_SECONDS", 6));
    private static readonly TimeSpan ServerErrors = Phase;
    private static readonly TimeSpan Silence = Phase;

    /// <summary>Shortened probes in the suite; at the issue's scale (a minute a phase) the shipped ones.</summary>
    private static readonly bool Scaled = Phase < TimeSpan.FromMinutes(1);

    [Fact]
    public async Task AnOutageParksEveryJobAndEachCompletesOnceWhenTheProviderReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(1_000_000, TimeSpan.FromSeconds(5));
        var environment = await TestEnvironment.CreateAsync(servers, "provider_outage");
        var extra = new Dictionary<string, string?>
        {
            ["Llm:Retry:MaxAttempts"] = "3",
            ["Llm:AttemptTimeout"] = (Phase / 3).ToString("c", CultureInfo.InvariantCulture),
        };
        if (Scaled)
        {
            extra["Llm:Retry:BaseDelay"] = "00:00:00.200";
            extra["Llm:Outage:ProbeInterval"] = "00:00:02";
            extra["Llm:Outage:MaxProbeInterval"] = "00:00:04";
        }

        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, extra));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var admin = api.CreateAuthenticatedClient(admin: true);
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        // A warmed worker meets the outage with the jobs arriving.
        var warm = await JobPolling.WaitForTerminalAsync(client, await AdmissionPipelineTests.SubmitAsync(client, "[outage-warm]", ct), TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)warm["status"]);
        llm.Outage = FakeOutage.ServerErrors;
        var outageStarted = DateTimeOffset.UtcNow;
        var jobs = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            jobs.Add(await AdmissionPipelineTests.SubmitAsync(client, Marker(i), ct));
        }

        // The operator sees it as it happens: the breaker open, with the calls and failures that opened it.
        JsonNode? openai = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            var health = await admin.GetFromJsonAsync<JsonObject>("/api/v1/admin/providers/health", ct);
            openai = health!["providers"]!.AsArray().FirstOrDefault(p => (string?)p!["provider"] == "openai");
            return openai?["outage"]?["state"]?.GetValue<string>() is "open" or "half_open" && (int)openai["failures"]! > 0;
        }, TimeSpan.FromSeconds(20));
        var openedAt = (DateTimeOffset)openai!["outage"]!["opened_at"]!;
        Assert.InRange(openedAt - outageStarted, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Contains((string?)openai["circuit_state"], new[] { "open", "half_open" });
        Assert.True((int)openai["calls"]! >= (int)openai["failures"]!);

        // A job waits on the outage, naming the provider and the reason, until a time not yet past.
        JsonObject? waiting = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            foreach (var job in jobs)
            {
                var status = await client.GetFromJsonAsync<JsonObject>(job, ct);
                if ((string?)status!["status"] == "waiting" && (string?)status["waiting_for"]?["reason"] == "outage")
                {
                    waiting = status;
                    return true;
                }
            }

            return false;
        }, TimeSpan.FromSeconds(20));
        Assert.Equal(("budget", "openai"), ((string?)waiting!["waiting_for"]!["kind"], (string?)waiting["waiting_for"]!["provider"]));
        Assert.True((DateTimeOffset)waiting["waiting_for"]!["until"]! >= DateTimeOffset.UtcNow.AddSeconds(-1));

        await Task.Delay(ServerErrors - (DateTimeOffset.UtcNow - outageStarted) is { Ticks: > 0 } rest ? rest : TimeSpan.Zero, ct);
        llm.Outage = FakeOutage.Silent;
        await Task.Delay(Silence, ct);
        var failedDuringOutage = 0;
        foreach (var job in jobs)
        {
            failedDuringOutage += (string?)(await client.GetFromJsonAsync<JsonObject>(job, ct))!["status"] == "failed" ? 1 : 0;
        }

        llm.Outage = FakeOutage.None;
        var back = DateTimeOffset.UtcNow;
        var failed = 0;
        foreach (var job in jobs)
        {
            // The next probe may be up to MaxProbeInterval away (2 minutes shipped).
            var done = await JobPolling.WaitForTerminalAsync(client, job, TimeSpan.FromSeconds(Scaled ? 60 : 240), ct);
            failed += (string?)done["status"] == "completed" ? 0 : 1;
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Jobs} jobs, {ServerErrors.TotalSeconds} s of 500s then {Silence.TotalSeconds} s of silence: breaker opened " +
            $"{(openedAt - outageStarted).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s after the outage began; " +
            $"{llm.OutageRequests} requests met the outage; {failedDuringOutage} failed during it, {failed} at the end; " +
            $"{Enumerable.Range(0, Jobs).Count(i => llm.AnsweredContaining(Marker(i)) > 1)} answered twice; " +
            $"all done {(DateTimeOffset.UtcNow - back).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s after the provider returned");
        Assert.Equal(0, failedDuringOutage);
        Assert.Equal(0, failed);
        for (var i = 0; i < Jobs; i++)
        {
            Assert.Equal(1, llm.AnsweredContaining(Marker(i)));
        }
    }

    private static string Marker(int job) => $"[outage-{job:D3}]";
}
