using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Redis losing its data (FLUSHALL, or a restart without persistence) while jobs wait on every priority band and a
/// worker runs: the worker meets the missing consumer group on its next read, recreates it and dispatches every queued
/// job again, so every job completes within seconds, each run once, without a restart. The production defaults for
/// redispatch (2 minutes) and the reconcile interval are kept, so the stale-entry pass cannot be what saves them.
/// A fault the worker cannot heal keeps /health's dispatch check unhealthy for as long as it lasts.
/// </summary>
[IntegrationTest]
public sealed class RedisDataLossTests(TestServers servers)
{
    private const int JobsPerBand = 4;
    private static readonly int[] Priorities = [1, 5, 8];
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(10);

    [Fact]
    public Task JobsQueuedOnEveryBandRunOnceWithin10SecondsOfAFlushAll() =>
        RunAsync(nameof(JobsQueuedOnEveryBandRunOnceWithin10SecondsOfAFlushAll), async redis =>
        {
            await using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},allowAdmin=true");
            await admin.GetServers()[0].FlushAllDatabasesAsync();
        });

    [Fact]
    public Task JobsQueuedOnEveryBandRunOnceWithin10SecondsOfARestartWithoutData() =>
        RunAsync(nameof(JobsQueuedOnEveryBandRunOnceWithin10SecondsOfARestartWithoutData), async redis =>
        {
            await redis.StopAsync(kill: true);
            foreach (var entry in Directory.EnumerateFileSystemEntries(redis.DataDirectory).Where(e => !e.EndsWith(".log", StringComparison.Ordinal)))
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }

            await redis.StartAsync();
        });

    [Fact]
    public async Task HealthReportsDispatchUnhealthyWhileAWorkerCannotReadAndTheWorkerHealsWhenTheFaultEnds()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(HealthReportsDispatchUnhealthyWhileAWorkerCannotReadAndTheWorkerHealsWhenTheFaultEnds), ct);
        var warmUp = await rig.SubmitAsync(8, "warm-up", ct);
        Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(rig.Client, warmUp, TimeSpan.FromSeconds(30), ct))["status"]);

        // The high band's stream replaced by a plain string: every read fails with WRONGTYPE, which no worker can heal.
        await using var direct = await ConnectionMultiplexer.ConnectAsync(rig.Redis.ConnectionString);
        var highStream = $"{rig.KeyPrefix}:jobs:high";
        await direct.GetDatabase().KeyDeleteAsync(highStream);
        await direct.GetDatabase().StringSetAsync(highStream, "not a stream");

        var unhealthy = await WaitForHealthAsync(rig.Client, h => (string?)h["checks"]?["dispatch"]?["status"] == "Unhealthy", ct);
        Assert.Contains("WRONGTYPE", unhealthy["checks"]!["dispatch"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        var accepted = await rig.SubmitAsync(8, "during-the-fault", ct);

        await direct.GetDatabase().KeyDeleteAsync(highStream);
        var status = await JobPolling.WaitForTerminalAsync(rig.Client, accepted, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)status["status"]);
        await WaitForHealthAsync(rig.Client, h => (string?)h["checks"]?["dispatch"]?["status"] == "Healthy", ct);
    }

    private async Task RunAsync(string name, Func<LocalRedis, Task> loseData)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, name, ct);
        var jobs = new List<(string Url, string Topic)>();
        for (var i = 0; i < JobsPerBand * Priorities.Length; i++)
        {
            var topic = $"topic-{i}";
            jobs.Add((await rig.SubmitAsync(Priorities[i % Priorities.Length], topic, ct), topic));
        }

        // The worker (two slots) is busy and every band still has jobs waiting in Redis when the data goes.
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(rig.Llm.CallCount >= 1), TimeSpan.FromSeconds(30));
        var queued = await rig.Client.GetFromJsonAsync<JsonObject>("/api/v1/jobs?status_filter=queued&limit=200", ct);
        var queuedPriorities = queued!["jobs"]!.AsArray().Select(j => (int)j!["priority"]!).ToHashSet();
        Assert.True(Priorities.All(queuedPriorities.Contains), $"queued priorities before the loss: {string.Join(", ", queuedPriorities)}");

        await loseData(rig.Redis);
        var lostAt = DateTimeOffset.UtcNow;

        foreach (var (url, topic) in jobs)
        {
            var status = await JobPolling.WaitForTerminalAsync(rig.Client, url, TimeSpan.FromSeconds(30), ct);
            Assert.Equal("completed", (string?)status["status"]);
            var completedAfter = DateTimeOffset.Parse((string)status["completed_at"]!, CultureInfo.InvariantCulture) - lostAt;
            Assert.True(completedAfter < RecoveryBound, $"{topic} completed {completedAfter.TotalSeconds:F1} s after Redis lost its data");
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(rig.Llm, $"about {topic}."));
        }

        // Each job ran once: two LLM calls per job, none repeated.
        Assert.Equal(2 * jobs.Count, rig.Llm.CallCount);
    }

    private static async Task<JsonObject> WaitForHealthAsync(HttpClient client, Func<JsonObject, bool> condition, CancellationToken ct)
    {
        JsonObject? last = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            using var response = await client.GetAsync("/health", ct);
            last = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            return last is not null && condition(last);
        }, TimeSpan.FromSeconds(20));
        return last!;
    }

    /// <summary>A Redis of the test's own (it is flushed, killed or broken), the API, one worker, a slow fake LLM.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly DirectoryInfo _folder;
        private ApiFactory? _api;
        private WorkerHost? _worker;

        private Rig(DirectoryInfo folder, LocalRedis redis, FakeOpenAiServer llm)
        {
            _folder = folder;
            Redis = redis;
            Llm = llm;
        }

        public LocalRedis Redis { get; }

        public FakeOpenAiServer Llm { get; }

        public HttpClient Client { get; private set; } = null!;

        public string KeyPrefix { get; private set; } = "";

        public static async Task<Rig> StartAsync(TestServers servers, string name, CancellationToken ct)
        {
            var folder = Directory.CreateTempSubdirectory("llmwf-redis-loss-");
            var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.FullName });
            await redis.StartAsync(ct);
            var llm = await FakeOpenAiServer.StartAsync();
            llm.Latency = TimeSpan.FromMilliseconds(200);
            var rig = new Rig(folder, redis, llm);
            var environment = await TestEnvironment.CreateAsync(servers, name);
            rig.KeyPrefix = environment.KeyPrefix;
            var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
            {
                ["ConnectionStrings:redis"] = redis.ConnectionString,
                ["Worker:MaxConcurrentJobs"] = "2",
                // The shipped values: recovery must not come from re-sending stale entries.
                ["Worker:RedispatchAfter"] = "00:02:00",
                ["Worker:ReconcileInterval"] = "00:00:03",
            }));
            rig._api = new ApiFactory(settings);
            rig.Client = rig._api.CreateAuthenticatedClient();
            rig._worker = await WorkerHost.StartAsync(settings, ct);
            return rig;
        }

        public async Task<string> SubmitAsync(int priority, string topic, CancellationToken ct)
        {
            var response = await Client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "two_llm_steps", priority, input_data = new { topic } }, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
        }

        public async ValueTask DisposeAsync()
        {
            if (_worker is not null)
            {
                await _worker.DisposeAsync();
            }

            Client?.Dispose();
            if (_api is not null)
            {
                await _api.DisposeAsync();
            }

            await Llm.DisposeAsync();
            await Redis.StopAsync(kill: true);
            _folder.Delete(recursive: true);
        }
    }
}
