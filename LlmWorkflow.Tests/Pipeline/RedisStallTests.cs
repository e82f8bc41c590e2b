using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Redis frozen for 20 s (SIGSTOP: the connection stays open and nothing answers, as on a stalled host): every
/// submission is answered within 3 s (202: stored in PostgreSQL, dispatch left to the reconciler), /health answers
/// within a second and reports Redis as degraded, and once Redis resumes every accepted job completes, none lost.
/// </summary>
[IntegrationTest]
[Collection(TimeBoundTests.Name)]
public sealed class RedisStallTests(TestServers servers)
{
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan SubmitBound = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task SubmissionsAnswerWithin3SecondsAndHealthWithinASecondWhileRedisIsPausedAndNoJobIsLost()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-redis-stall-");
        var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.FullName });
        await redis.StartAsync(ct);
        await using var llm = await FakeOpenAiServer.StartAsync();
        var paused = false;
        try
        {
            var environment = await TestEnvironment.CreateAsync(servers, nameof(RedisStallTests));
            var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
            {
                ["ConnectionStrings:redis"] = redis.ConnectionString,
            }));
            await using var api = new ApiFactory(settings);
            using var client = api.CreateAuthenticatedClient();
            await using var worker = await WorkerHost.StartAsync(settings, ct);
            var before = await SubmitAsync(client, "before", ct);
            Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(client, before.Url, TimeSpan.FromSeconds(30), ct))["status"]);

            Assert.True(UnixSignals.Send(redis.ProcessId!.Value, UnixSignals.Stop));
            paused = true;
            var stalledUntil = Stopwatch.StartNew();

            // Four callers submitting one after another for the whole stall, and a probe reading /health.
            var callers = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
            {
                var accepted = new List<(string Url, TimeSpan Took)>();
                for (var i = 0; stalledUntil.Elapsed < Stall - SubmitBound; i++)
                {
                    accepted.Add(await SubmitAsync(client, $"caller-{c}-{i}", ct));
                }

                return accepted;
            }, ct)).ToArray();
            var probes = new List<(TimeSpan Took, string Redis, HttpStatusCode Status)>();
            while (stalledUntil.Elapsed < Stall - SubmitBound)
            {
                var clock = Stopwatch.StartNew();
                using var response = await client.GetAsync("/health", ct);
                var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
                probes.Add((clock.Elapsed, (string?)body?["checks"]?["redis"]?["status"] ?? "?", response.StatusCode));
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }

            var submissions = (await Task.WhenAll(callers)).SelectMany(a => a).ToArray();
            Assert.True(UnixSignals.Send(redis.ProcessId!.Value, UnixSignals.Continue));
            paused = false;

            var slowest = submissions.Max(s => s.Took);
            Assert.True(slowest < SubmitBound, $"the slowest of {submissions.Length} submissions took {slowest.TotalSeconds:F2} s");
            Assert.True(submissions.Length >= 8, $"only {submissions.Length} submissions in {Stall.TotalSeconds} s");
            var probeReport = string.Join("; ", probes.Select(p => $"{p.Took.TotalMilliseconds:F0} ms {(int)p.Status} redis {p.Redis}"));
            Assert.True(probes.All(p => p.Took < TimeSpan.FromSeconds(1)), probeReport);
            Assert.True(probes.Skip(1).All(p => p.Redis == "Degraded" && p.Status == HttpStatusCode.OK), probeReport);

            foreach (var (url, _) in submissions)
            {
                var status = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(60), ct);
                Assert.Equal("completed", (string?)status["status"]);
            }
        }
        finally
        {
            if (paused && redis.ProcessId is { } pid)
            {
                UnixSignals.Send(pid, UnixSignals.Continue);
            }

            await redis.StopAsync(kill: true, CancellationToken.None);
            folder.Delete(recursive: true);
        }
    }

    private static async Task<(string Url, TimeSpan Took)> SubmitAsync(HttpClient client, string name, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "two_transforms", input_data = new { name } }, ct);
        var took = clock.Elapsed;
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return ((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!, took);
    }
}
