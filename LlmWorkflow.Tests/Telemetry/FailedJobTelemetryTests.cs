using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>A job whose LLM call is rejected: its run, step and call spans end with error status and exception events.</summary>
[IntegrationTest]
public sealed class FailedJobTelemetryTests(TestServers servers)
{
    [Fact]
    public async Task FailedJobMarksRunStepAndCallSpansAsErrors()
    {
        var ct = TestContext.Current.CancellationToken;
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "LlmWorkflow",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var llm = await FakeOpenAiServer.StartAsync();
        llm.EnqueueError(400, "The prompt is not acceptable.");
        var environment = await TestEnvironment.CreateAsync(servers, nameof(FailedJobTelemetryTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Telemetry", "workflows"),
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
            ["Llm:Providers:openai:BaseUrl"] = llm.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Llm:Retry:MaxAttempts"] = "1",
        });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        using var submit = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "telemetry_three_steps", input_data = new { topic = "errors" } }, ct);
        var jobId = (string)(await submit.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        var job = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(60), ct);
        Assert.Equal("failed", (string?)job["status"]);

        await Eventually.TrueAsync(() => Task.FromResult(stopped.Any(a => a.OperationName == "job.run" && (string?)a.GetTagItem("llmworkflow.job_id") == jobId)),
            TimeSpan.FromSeconds(30), "the job.run span");
        var run = stopped.Single(a => a.OperationName == "job.run" && (string?)a.GetTagItem("llmworkflow.job_id") == jobId);
        var trace = stopped.Where(a => a.TraceId == run.TraceId).ToList();
        var step = Assert.Single(trace, a => a.OperationName == "step write");
        var chat = Assert.Single(trace, a => a.OperationName == "chat gpt-4o-mini");
        Assert.DoesNotContain(trace, a => a.OperationName == "step finish");
        foreach (var span in new[] { run, step, chat })
        {
            Assert.Equal(ActivityStatusCode.Error, span.Status);
            Assert.NotNull(span.GetTagItem("error.type"));
            Assert.Contains(span.Events, e => e.Name == "exception" && e.Tags.Any(t => t.Key == "exception.message"));
        }

        Assert.Equal("failed", run.GetTagItem("llmworkflow.job.status"));
        Assert.Equal("failed", step.GetTagItem("llmworkflow.step.status"));
        Assert.Equal(ActivityStatusCode.Unset, Assert.Single(trace, a => a.OperationName == "step prepare").Status);
    }
}
