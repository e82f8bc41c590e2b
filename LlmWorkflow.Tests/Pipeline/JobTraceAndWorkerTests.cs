using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A job's status names its trace (the one its submit request started, continued from the caller's traceparent) and
/// the worker that ran it, and keeps both after the job ended: GET /api/v1/status/{id} and GET /api/v1/jobs/{id}.
/// </summary>
[IntegrationTest]
public sealed class JobTraceAndWorkerTests(TestServers servers)
{
    [Fact]
    public async Task AFinishedJobNamesItsTraceAndItsWorker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(JobTraceAndWorkerTests), _ => { }, ct,
            new Dictionary<string, string?> { ["Worker:Id"] = "trace-worker" });
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var submit = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
        {
            Content = JsonContent.Create(new { workflow_name = "one_llm_step", input_data = new { question = "which trace?" } }),
        };
        submit.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        var accepted = await (await pipeline.Client.SendAsync(submit, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        var jobId = (string)accepted!["job_id"]!;

        var finished = await JobPolling.WaitForTerminalAsync(pipeline.Client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)finished["status"]);
        foreach (var url in new[] { $"/api/v1/status/{jobId}", $"/api/v1/jobs/{jobId}" })
        {
            var status = (await pipeline.Client.GetFromJsonAsync<JsonObject>(url, ct))!;
            Assert.Equal(traceId, (string?)status["trace_id"]);
            Assert.Equal("trace-worker", (string?)status["worker_id"]);
        }
    }
}
