using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Redis or PostgreSQL restarting mid-run loses no accepted job. These tests own their servers (the shared ones stay up).
/// </summary>
[IntegrationTest]
public sealed class DependencyRestartTests(TestServers servers)
{
    private const int Jobs = 12;

    [Fact]
    public async Task RedisRestartMidRunLosesNoJob()
    {
        var ct = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        await using var redis = new LocalRedis(new LocalRedisOptions { DataDirectory = folder.Path });
        await redis.StartAsync(ct);
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.Latency = TimeSpan.FromMilliseconds(300);

        var environment = await TestEnvironment.CreateAsync(servers, nameof(RedisRestartMidRunLosesNoJob));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Worker:MaxConcurrentJobs"] = "2",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var statusUrls = new List<string>();
        for (var i = 0; i < Jobs; i++)
        {
            statusUrls.Add(await SubmitAsync(client, i, ct));
        }

        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(llm.CallCount >= 2), TimeSpan.FromSeconds(30));
        await redis.StopAsync(kill: true, ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        await redis.StartAsync(ct);

        foreach (var url in statusUrls)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(90), ct);
            Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        }
    }

    [Fact]
    public async Task PostgresRestartMidRunAnswers503ThenRecoversWithoutLosingAcceptedJobs()
    {
        var ct = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder.Path, TradeDurabilityForSpeed = true });
        await postgres.StartAsync(ct);
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.Latency = TimeSpan.FromMilliseconds(300);

        var environment = await TestEnvironment.CreateAsync(servers, nameof(PostgresRestartMidRunAnswers503ThenRecoversWithoutLosingAcceptedJobs));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.GetConnectionString("postgres"),
            ["Worker:MaxConcurrentJobs"] = "2",
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var statusUrls = new List<string>();
        for (var i = 0; i < Jobs / 2; i++)
        {
            statusUrls.Add(await SubmitAsync(client, i, ct));
        }

        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(llm.CallCount >= 2), TimeSpan.FromSeconds(30));
        await postgres.StopAsync(immediate: true, ct);

        var whileDown = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "two_llm_steps", input_data = new { topic = "down" } }, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, whileDown.StatusCode);
        Assert.NotNull(whileDown.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync(statusUrls[0], ct)).StatusCode);

        await postgres.StartAsync(ct);
        for (var i = Jobs / 2; i < Jobs; i++)
        {
            statusUrls.Add(await SubmitAsync(client, i, ct));
        }

        foreach (var url in statusUrls)
        {
            var status = await JobPolling.WaitForTerminalAsync(client, url, TimeSpan.FromSeconds(90), ct);
            Assert.True((string?)status["status"] == "completed", status.ToJsonString());
        }
    }

    private static async Task<string> SubmitAsync(HttpClient client, int i, CancellationToken ct)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "two_llm_steps", input_data = new { topic = $"topic {i}" } }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["status_url"]!;
    }

    private sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("llmwf-restart-").FullName;

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
