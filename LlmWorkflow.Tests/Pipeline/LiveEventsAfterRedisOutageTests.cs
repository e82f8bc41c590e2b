using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A job that finishes while Redis is down leaves a live event stream with its first events and no ending. That stream
/// still expires (it got its expiry with its first events), and a reader starting from the beginning gets those events
/// and then the ending rebuilt from PostgreSQL, and the response ends; reconnecting with the last id gets 204, which
/// stops EventSource's reconnects.
/// </summary>
[IntegrationTest]
public sealed class LiveEventsAfterRedisOutageTests(TestServers servers)
{
    [Fact]
    public async Task AReaderOfAStreamThatLostItsEndingGetsRunCompletedAndTheStreamStillExpires()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-events-outage-");
        // Appends every write to its file, so the events written before the stop are there after the restart.
        await using var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.FullName });
        await redis.StartAsync(ct);
        await using var llm = await FakeOpenAiServer.StartAsync();
        try
        {
            var environment = await TestEnvironment.CreateAsync(servers, nameof(LiveEventsAfterRedisOutageTests));
            var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
            {
                ["ConnectionStrings:redis"] = redis.ConnectionString,
            }));
            await using var api = new ApiFactory(settings);
            using var client = api.CreateAuthenticatedClient();
            var workerLogs = new LlmWorkflow.Tests.Webhooks.CapturingLoggerProvider();
            await using var worker = await WorkerHost.StartAsync(settings, ct, workerLogs);

            var release = new TaskCompletionSource();
            llm.AnswerGate = release.Task;
            var submitted = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "one_llm_step", input_data = new { question = "outage" } }, ct);
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            var accepted = (await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!;
            var jobId = (string)accepted["job_id"]!;
            var statusUrl = (string)accepted["status_url"]!;
            var eventsKey = $"{environment.KeyPrefix}:events:{jobId}";

            await using (var direct = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
            {
                // The LLM call is held open, so the job is mid-run with its first events written.
                await WorkerCrashTests.WaitUntilAsync(async () => llm.CallCount == 1 && await direct.GetDatabase().StreamLengthAsync(eventsKey) >= 2, TimeSpan.FromSeconds(30));
            }

            await redis.StopAsync(kill: false, ct);
            release.SetResult();
            Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(client, statusUrl, TimeSpan.FromSeconds(30), ct))["status"]);
            // StackExchange.Redis holds commands sent while disconnected for its command timeout: Redis stays down until
            // the worker has given the terminal event up, as it does in any outage longer than that.
            await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(workerLogs.Lines.Any(l => l.Message.StartsWith("Could not write", StringComparison.Ordinal)
                && l.Message.Contains("run_completed", StringComparison.Ordinal))), TimeSpan.FromSeconds(30));
            await redis.StartAsync(ct);

            await using (var direct = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
            {
                var kept = await direct.GetDatabase().StreamRangeAsync(eventsKey);
                Assert.NotEmpty(kept);
                Assert.DoesNotContain(kept, e => (string?)e["type"] == "run_completed");
                var expiry = await direct.GetDatabase().KeyTimeToLiveAsync(eventsKey);
                Assert.True(expiry is { } ttl && ttl > TimeSpan.Zero && ttl <= TimeSpan.FromDays(1), $"the stream's expiry is {expiry?.ToString() ?? "none"}");
            }

            var items = new List<SseItem<string>>();
            using (var reading = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                reading.CancelAfter(TimeSpan.FromSeconds(20));
                using var response = await client.GetAsync($"/api/v1/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead, reading.Token);
                await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(reading.Token)).EnumerateAsync(reading.Token))
                {
                    items.Add(item);
                }
            }

            Assert.Equal("run_started", items[0].EventType);
            Assert.Equal("run_completed", items[^1].EventType);
            Assert.Equal(true, (bool?)JsonNode.Parse(items[^1].Data)?["from_database"]);

            using var resume = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{jobId}/events");
            resume.Headers.Add("Last-Event-ID", items[^1].EventId);
            using var resumed = await client.SendAsync(resume, ct);
            Assert.Equal(HttpStatusCode.NoContent, resumed.StatusCode);
        }
        finally
        {
            await redis.StopAsync(kill: true, CancellationToken.None);
            folder.Delete(recursive: true);
        }
    }
}
