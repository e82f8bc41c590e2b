using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>Cancelling a running job stops it within about a second and aborts its in-flight LLM request.</summary>
public sealed class CancellationTests(TestServers servers)
{
    [Fact]
    public async Task CancellingARunningJobAbortsItsInFlightLlmCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.Enqueue(FakeResponse.Hanging());
        var environment = await TestEnvironment.CreateAsync(servers, nameof(CancellationTests));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var accepted = await (await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "one_llm_step", input_data = new { question = "will this finish?" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        var statusUrl = (string)accepted!["status_url"]!;
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(llm.CallCount == 1), TimeSpan.FromSeconds(30));

        var cancel = await client.DeleteAsync($"/api/v1/workflow/{accepted["job_id"]}", ct);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var cancelledAt = DateTime.UtcNow;

        var aborted = await llm.RequestAborted.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Contains("ONLY", aborted.Body, StringComparison.Ordinal);
        var status = await JobPolling.WaitForTerminalAsync(client, statusUrl, TimeSpan.FromSeconds(10), ct);
        Assert.Equal("cancelled", (string?)status["status"]);
        Assert.True(DateTime.UtcNow - cancelledAt < TimeSpan.FromSeconds(5), "the job should stop promptly after the cancel request");
    }
}
