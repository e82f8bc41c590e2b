using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Jobs accepted while Redis is down start within seconds of its return, not after the 2-minute redispatch. Redis
/// keeps its streams across the restart (append-only file), so only the API's failed XADD can lose the dispatch.
/// </summary>
[IntegrationTest]
public sealed class RedisOutageDispatchTests(TestServers servers)
{
    private const int JobsDuringOutage = 5;

    [Fact]
    public async Task JobsAcceptedWhileRedisIsDownStartWithin10SecondsOfItsReturn()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-redis-outage-");
        await using var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.FullName });
        await redis.StartAsync(ct);
        try
        {
            await RunAsync(redis, ct);
        }
        finally
        {
            await redis.StopAsync(kill: true, CancellationToken.None);
            folder.Delete(recursive: true);
        }
    }

    private async Task RunAsync(LocalRedis redis, CancellationToken ct)
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(RedisOutageDispatchTests));

        // The production defaults for redispatch (2 minutes) and reconcile interval: no test shortcut.
        var settings = environment.Settings(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis.ConnectionString });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);
        var warmUp = await SubmitAsync(client, "before", ct);
        Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(client, warmUp, TimeSpan.FromSeconds(60), ct))["status"]);

        await redis.StopAsync(kill: false, ct);
        var accepted = new List<string>();
        for (var i = 0; i < JobsDuringOutage; i++)
        {
            accepted.Add(await SubmitAsync(client, $"during-{i}", ct));
        }

        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        await redis.StartAsync(ct);
        var redisBack = DateTimeOffset.UtcNow;

        foreach (var url in accepted)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(90), ct);
            Assert.Equal("completed", (string?)status["status"]);
            var startedAfter = DateTimeOffset.Parse((string)status["started_at"]!, System.Globalization.CultureInfo.InvariantCulture) - redisBack;
            Assert.True(startedAfter < TimeSpan.FromSeconds(10), $"{url} started {startedAfter.TotalSeconds:F1} s after Redis came back");
        }
    }

    private static async Task<string> SubmitAsync(HttpClient client, string name, CancellationToken ct)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }
}
