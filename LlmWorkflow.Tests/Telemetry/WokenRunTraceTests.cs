using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>
/// A run that a due time starts (here a <c>delay_seconds</c>; a sleep's, a wait's timeout and a parked step's re-check
/// take the same wake) continues the job's own trace, the submit's, instead of opening a new one: a job that waits
/// is one trace in the Aspire dashboard, not one per wake-up (issue 80: parked jobs' re-checks filled the trace list).
/// </summary>
[IntegrationTest]
public sealed class WokenRunTraceTests(TestServers servers)
{
    [Fact]
    public async Task ADelayedJobsRunJoinsTheTraceOfItsSubmit()
    {
        var ct = TestContext.Current.CancellationToken;
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "LlmWorkflow" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var rig = await ApiWorkerRig.StartAsync(servers, nameof(ADelayedJobsRunJoinsTheTraceOfItsSubmit), worker: true, ct);

        var caller = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
        {
            Content = JsonContent.Create(new { workflow_name = "hello_transform", input_data = new { name = "later" }, delay_seconds = 1 }),
        };
        request.Headers.Add("traceparent", $"00-{caller.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await rig.Client.SendAsync(request, ct);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted?.ToJsonString());
        Assert.Equal("scheduled", (string?)accepted!["status"]);
        var jobId = (string)accepted["job_id"]!;

        var done = await JobPolling.WaitForTerminalAsync(rig.Client, (string)accepted["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        await Eventually.TrueAsync(() => Task.FromResult(stopped.Any(a => a.OperationName == "job.run" && (string?)a.GetTagItem("llmworkflow.job_id") == jobId)),
            TimeSpan.FromSeconds(30), "the job.run span");
        var run = stopped.Single(a => a.OperationName == "job.run" && (string?)a.GetTagItem("llmworkflow.job_id") == jobId);
        Assert.Equal(caller, run.TraceId);
    }
}
