using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// With the Worker's shipped log levels, a job logs one line at Information (its finish), however many LLM calls it
/// makes: the HTTP resilience pipeline's per-call "executed" line (Polly, Information) and the Redis client's
/// connection chatter stay below the shipped level; per-step detail is Debug and in the trace.
/// </summary>
[IntegrationTest]
public sealed class ShippedLogLevelTests(TestServers servers)
{
    [Fact]
    public async Task AJobWithTwoLlmCallsLogsOneInformationLine()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ShippedLogLevelTests));
        var settings = new Dictionary<string, string?>(environment.Settings(PipelineTestWorkflows.Settings(llm)));
        foreach (var (category, level) in await ShippedLevelsAsync("LlmWorkflow.Worker", ct))
        {
            settings[$"Logging:LogLevel:{category}"] = level;
        }

        var logs = new CapturingLoggerProvider();
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct, logs);

        var jobs = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var accepted = await (await client.PostAsJsonAsync("/api/v1/workflow",
                new { workflow_name = "two_llm_steps", input_data = new { topic = $"logs {i}" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
            jobs.Add(Guid.Parse((string)accepted!["job_id"]!));
        }

        await WorkerCrashTests.WaitUntilAsync(async () => Convert.ToInt64(await TestSql.ScalarAsync(environment.PostgresConnectionString,
            "SELECT count(*) FROM llm_workflow_jobs WHERE status = 'completed'", ct)) == jobs.Count, TimeSpan.FromSeconds(60));

        Assert.Equal(2 * jobs.Count, PipelineTestWorkflows.CallsContaining(llm, "FIRST") + PipelineTestWorkflows.CallsContaining(llm, "SECOND"));
        var shown = logs.Lines.Where(line => line.Level >= LogLevel.Information).ToList();
        foreach (var job in jobs)
        {
            Assert.Single(shown, line => line.Message.Contains(job.ToString(), StringComparison.Ordinal));
        }

        Assert.DoesNotContain(shown, line => line.Category.StartsWith("Polly", StringComparison.Ordinal));
        Assert.DoesNotContain(shown, line => line.Category.StartsWith("StackExchange.Redis", StringComparison.Ordinal));
    }

    private static async Task<IEnumerable<(string Category, string? Level)>> ShippedLevelsAsync(string service, CancellationToken ct)
    {
        var shipped = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, service, "appsettings.json"), ct))!;
        return shipped["Logging"]!["LogLevel"]!.AsObject().Select(level => (level.Key, (string?)level.Value));
    }
}
