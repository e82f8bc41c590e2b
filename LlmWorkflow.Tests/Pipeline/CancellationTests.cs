using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>Cancelling a running job stops it within about a second and aborts its in-flight LLM request.</summary>
[IntegrationTest]
public sealed class CancellationTests(TestServers servers)
{
    [Fact]
    public async Task CancellingARunningJobAbortsItsInFlightLlmCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(CancellationTests), llm => llm.Enqueue(FakeResponse.Hanging()), ct);
        var (llm, client) = (pipeline.Llm, pipeline.Client);
        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "will this finish?" }, ct);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(llm.CallCount == 1), TimeSpan.FromSeconds(30));

        var cancel = await client.DeleteAsync(statusUrl.Replace("/status/", "/workflow/", StringComparison.Ordinal), ct);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var cancelledAt = DateTime.UtcNow;

        var aborted = await llm.RequestAborted.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Contains("ONLY", aborted.Body, StringComparison.Ordinal);
        var status = await JobPolling.WaitForTerminalAsync(client, statusUrl, TimeSpan.FromSeconds(10), ct);
        Assert.Equal("cancelled", (string?)status["status"]);
        Assert.True(DateTime.UtcNow - cancelledAt < TimeSpan.FromSeconds(5), "the job should stop promptly after the cancel request");
    }
}
