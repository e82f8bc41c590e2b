using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A <c>sleep</c> step on real servers: the job is <c>waiting</c> (what it waits for and until when on its status),
/// holds no worker slot — a one-slot worker runs another job meanwhile — and resumes on time from its checkpoints,
/// its first LLM call not made again; a worker killed while the job sleeps loses nothing: a new worker resumes it.
/// The reconcile pass is off (<see cref="ApiWorkerRig.SafetyNetOff"/>), so the wake-up can only be the waker's push.
/// </summary>
[IntegrationTest]
public sealed class SleepStepPipelineTests(TestServers servers)
{
    /// <summary>
    /// Generous for a loaded CI machine (the test process hosts other tests' servers); with the safety net off, a lost
    /// push would make the wake a minute late (the due-time loop's reread). The bench measures the real lateness.
    /// </summary>
    private static readonly TimeSpan Lateness = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ASleepingJobHoldsNoSlotAndResumesOnTimeWithoutPayingAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(ASleepingJobHoldsNoSlotAndResumesOnTimeWithoutPayingAgain));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var sleeper = await SubmitAsync(client, new { workflow_name = "llm_sleep_llm", input_data = new { topic = "sleeper", seconds = 3 } }, ct);
        var waiting = await WaitForStatusAsync(client, sleeper, "waiting", ct);
        var waitingFor = waiting["waiting_for"]!;
        Assert.Equal(("nap", "sleep"), ((string?)waitingFor["step_id"], (string?)waitingFor["kind"]));
        var until = DateTimeOffset.Parse((string)waitingFor["until"]!, CultureInfo.InvariantCulture);

        // The only slot is free while it sleeps: another job runs and finishes before it wakes.
        var other = await SubmitAsync(client, new { workflow_name = "one_llm_step", input_data = new { question = "meanwhile" } }, ct);
        var otherDone = await JobPolling.WaitForTerminalAsync(client, other, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)otherDone["status"]);
        Assert.True(DateTimeOffset.Parse((string)otherDone["completed_at"]!, CultureInfo.InvariantCulture) < until, "the other job waited for the sleeper's slot");

        var done = await JobPolling.WaitForTerminalAsync(client, sleeper, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, (int)done["attempt"]!);
        Assert.Equal(until, DateTimeOffset.Parse((string)done["result"]!["output"]!["slept_until"]!, CultureInfo.InvariantCulture));
        var second = done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "second")!;
        var resumedAfter = DateTimeOffset.Parse((string)second["started_at"]!, CultureInfo.InvariantCulture) - until;
        Assert.True(resumedAfter >= TimeSpan.Zero && resumedAfter < Lateness, $"the step after the sleep started {resumedAfter.TotalMilliseconds:F0} ms after its time");
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "FIRST: write one sentence about sleeper."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "SECOND: about sleeper,"));

        // One event stream over both runs: the park is an event, the stream goes on and ends once.
        var types = new List<string>();
        using var events = await client.GetAsync($"/api/v1/jobs/{done["job_id"]}/events", HttpCompletionOption.ResponseHeadersRead, ct);
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await events.Content.ReadAsStreamAsync(ct)).EnumerateAsync(ct))
        {
            types.Add(item.EventType);
        }

        var waited = types.IndexOf("run_waiting");
        Assert.True(waited > 0 && types.IndexOf("step_started", waited) > waited, string.Join(", ", types));
        Assert.Equal("run_completed", types[^1]);
        Assert.Single(types, t => t == "run_completed");
    }

    [Fact]
    public async Task AJobSleepingWhenItsWorkerDiesIsResumedByTheNextWorker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(AJobSleepingWhenItsWorkerDiesIsResumedByTheNextWorker));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        var job = "";
        await using (var first = await WorkerHost.StartAsync(settings, ct))
        {
            job = await SubmitAsync(client, new { workflow_name = "llm_sleep_llm", input_data = new { topic = "restart", seconds = 2 } }, ct);
            await WaitForStatusAsync(client, job, "waiting", ct);
        }

        var status = await client.GetFromJsonAsync<JsonObject>(job, ct);
        Assert.Equal("waiting", (string?)status!["status"]);
        var until = DateTimeOffset.Parse((string)status["waiting_for"]!["until"]!, CultureInfo.InvariantCulture);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > until), TimeSpan.FromSeconds(10));

        await using var next = await WorkerHost.StartAsync(settings, ct);
        var done = await JobPolling.WaitForTerminalAsync(client, job, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "FIRST: write one sentence about restart."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, "SECOND: about restart,"));
    }

    [Fact]
    public async Task AClientThatReadsTheJobOnHearingItsOutcomeSeesThatOutcome()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var settings = await SettingsAsync(llm, nameof(AClientThatReadsTheJobOnHearingItsOutcomeSeesThatOutcome));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        // What a main app does on an event: read the job. run_waiting must find it waiting, run_completed completed.
        var heard = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var statusUrl = await SubmitAsync(client, new { workflow_name = "llm_sleep_llm", input_data = new { topic = $"outcome {i}", seconds = 1 } }, ct);
            var jobId = statusUrl[(statusUrl.LastIndexOf('/') + 1)..];
            using var events = await client.GetAsync($"/api/v1/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead, ct);
            await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await events.Content.ReadAsStreamAsync(ct)).EnumerateAsync(ct))
            {
                if (item.EventType is "run_waiting" or "run_completed")
                {
                    var status = (string?)(await client.GetFromJsonAsync<JsonObject>(statusUrl, ct))!["status"];
                    heard.Add($"{item.EventType} -> {status}");
                }
            }
        }

        Assert.Equal(Enumerable.Repeat(new[] { "run_waiting -> waiting", "run_completed -> completed" }, 4).SelectMany(x => x), heard);
    }

    private async Task<Dictionary<string, string?>> SettingsAsync(FakeOpenAiServer llm, string name) =>
        (await TestEnvironment.CreateAsync(servers, name)).Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Worker:MaxConcurrentJobs"] = "1",
            ["Worker:ReconcileInterval"] = ApiWorkerRig.SafetyNetOff,
        }));

    private static async Task<string> SubmitAsync(HttpClient client, object body, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", body, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["status_url"]!;
    }

    private static Task<JsonObject> WaitForStatusAsync(HttpClient client, string statusUrl, string status, CancellationToken ct) =>
        JobPolling.WaitForStatusAsync(client, statusUrl, status, TimeSpan.FromSeconds(30), ct);
}
