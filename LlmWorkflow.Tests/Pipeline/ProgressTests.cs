using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>A poller sees which step a running job is on (display name and percent) and the step's record when it ends.</summary>
[IntegrationTest]
public sealed class ProgressTests(TestServers servers)
{
    [Fact]
    public async Task StatusShowsTheRunningStepThenTheFinishedRecord()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(ProgressTests), llm => llm.Latency = TimeSpan.FromSeconds(2), ct);
        var client = pipeline.Client;
        var statusUrl = await pipeline.SubmitAsync("two_llm_steps", new { topic = "progress" }, ct);

        JsonObject? running = null;
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            running = await client.GetFromJsonAsync<JsonObject>(statusUrl, ct);
            return (string?)running!["progress"]!["current_step_name"] == "Second call";
        }, TimeSpan.FromSeconds(30));

        Assert.Equal("processing", (string?)running!["status"]);
        Assert.Equal(50, (int)running["progress"]!["percent"]!);
        Assert.Equal("First call", (string?)running["steps"]!.AsArray().Single()!["display_name"]);

        var done = await JobPolling.WaitForTerminalAsync(client, statusUrl, TimeSpan.FromSeconds(30), ct);
        Assert.Equal(100, (int)done["progress"]!["percent"]!);
        Assert.Null(done["progress"]!["current_step_name"]);
        Assert.Equal(["First call", "Second call"], done["steps"]!.AsArray().Select(s => (string?)s!["display_name"]));
    }
}
