using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// Delayed runs (<c>run_at</c>, <c>delay_seconds</c>): a job is <c>scheduled</c> until due, holding no worker slot, then
/// runs once, woken by a push (the API's notice cuts the workers' sleep short) and not by a slow poll: the reconcile
/// pass is off (<see cref="ApiWorkerRig.SafetyNetOff"/>), so it cannot be what starts it. A reschedule moves it,
/// a cancel while scheduled ends it, bad times are refused naming the field, and a job that fell due while no worker
/// ran starts as soon as one does.
/// </summary>
[IntegrationTest]
public sealed class DelayedRunTests(TestServers servers)
{
    /// <summary>
    /// Generous for a loaded CI machine; a lost push would make the start a minute late (the due-time loop's reread).
    /// The bench measures the 50 ms target.
    /// </summary>
    private static readonly TimeSpan Lateness = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ADelayedJobIsScheduledUntilDueThenRunsOnceOnTime()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await ApiWorkerRig.StartAsync(servers, nameof(ADelayedJobIsScheduledUntilDueThenRunsOnceOnTime), worker: true, ct);
        var inOneHour = DateTimeOffset.UtcNow.AddHours(1).ToOffset(TimeSpan.FromHours(1)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        var far = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "far" }, run_at = inOneHour }, ct);
        Assert.Equal("scheduled", (string?)far["status"]);
        Assert.True((int)far["estimated_wait_seconds"]! >= 3590, far.ToJsonString());

        var soon = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "soon" }, delay_seconds = 1 }, ct);
        Assert.Equal("scheduled", (string?)soon["status"]);
        var runAt = DateTimeOffset.Parse((string)soon["run_at"]!, CultureInfo.InvariantCulture);
        var listed = await rig.Client.GetFromJsonAsync<JsonObject>("/api/v1/jobs?status_filter=scheduled", ct);
        // A job cannot start before its run_at (asserted below), so a list answered before it must still hold the soon
        // one; on a loaded machine the answer can come after it, and then only the far one is certain to be there.
        var listedBeforeDue = DateTimeOffset.UtcNow < runAt;
        var scheduled = listed!["jobs"]!.AsArray().Select(j => (string?)j!["job_id"]).ToList();
        Assert.Contains((string?)far["job_id"], scheduled);
        Assert.InRange(scheduled.Count, listedBeforeDue ? 2 : 1, 2);

        var done = await JobPolling.WaitForTerminalAsync(rig.Client, (string)soon["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, (int)done["attempt"]!);
        var started = DateTimeOffset.Parse((string)done["started_at"]!, CultureInfo.InvariantCulture);
        Assert.True(started >= runAt && started - runAt < Lateness, $"due {runAt:O}, started {started:O}");
        Assert.Equal("scheduled", (string?)(await rig.StatusAsync(far, ct))["status"]);
    }

    [Fact]
    public async Task BadTimesAreRefusedNamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await ApiWorkerRig.StartAsync(servers, nameof(BadTimesAreRefusedNamingTheField), worker: false, ct);
        (object Body, string[] Fields)[] cases =
        [
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, run_at = "2020-01-01T00:00:00Z" }, ["run_at"]),
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, run_at = "2030-01-01T00:00:00" }, ["run_at"]),
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, run_at = "tomorrow" }, ["run_at"]),
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, run_at = "2030-01-01T00:00:00Z", delay_seconds = 5 }, ["run_at", "delay_seconds"]),
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, delay_seconds = 0 }, ["delay_seconds"]),
            (new { workflow_name = "hello_transform", input_data = new { name = "x" }, delay_seconds = 31_536_001 }, ["delay_seconds"]),
        ];
        foreach (var (body, fields) in cases)
        {
            using var response = await rig.Client.PostAsJsonAsync("/api/v1/workflow", body, ct);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem?.ToJsonString());
            Assert.Equal(fields.Order(), problem!["errors"]!.AsObject().Select(e => e.Key).Order());
        }

        var listed = await rig.Client.GetFromJsonAsync<JsonObject>("/api/v1/jobs?status_filter=all", ct);
        Assert.Empty(listed!["jobs"]!.AsArray());
    }

    [Fact]
    public async Task ARescheduleToSoonerRunsItThenAndACancelWhileScheduledEndsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await ApiWorkerRig.StartAsync(servers, nameof(ARescheduleToSoonerRunsItThenAndACancelWhileScheduledEndsIt), worker: true, ct);
        var moved = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "moved" }, delay_seconds = 3600 }, ct);
        // An hour away, so the cancel below meets it scheduled however slow the machine (a 1-s delay raced the cancel).
        var dropped = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "dropped" }, delay_seconds = 3600 }, ct);

        using var cancel = await rig.Client.DeleteAsync($"/api/v1/workflow/{dropped["job_id"]}", ct);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        using var rescheduled = await rig.Client.PatchAsJsonAsync($"/api/v1/jobs/{moved["job_id"]}", new { delay_seconds = 1 }, ct);
        var body = await rescheduled.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(rescheduled.StatusCode == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal("scheduled", (string?)body!["status"]);
        var runAt = DateTimeOffset.Parse((string)body["run_at"]!, CultureInfo.InvariantCulture);

        var done = await JobPolling.WaitForTerminalAsync(rig.Client, (string)moved["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        var started = DateTimeOffset.Parse((string)done["started_at"]!, CultureInfo.InvariantCulture);
        Assert.True(started >= runAt && started - runAt < Lateness, $"due {runAt:O}, started {started:O}");

        // The cancelled one never ran, and neither it nor a finished job can be rescheduled.
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > runAt.AddSeconds(1)), TimeSpan.FromSeconds(10));
        var droppedStatus = await rig.StatusAsync(dropped, ct);
        Assert.Equal("cancelled", (string?)droppedStatus["status"]);
        Assert.Null(droppedStatus["started_at"]);
        foreach (var job in new[] { dropped, moved })
        {
            using var refused = await rig.Client.PatchAsJsonAsync($"/api/v1/jobs/{job["job_id"]}", new { delay_seconds = 60 }, ct);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        }
    }

    [Fact]
    public async Task AJobThatFellDueWhileNoWorkerRanStartsOnceAWorkerStarts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await ApiWorkerRig.StartAsync(servers, nameof(AJobThatFellDueWhileNoWorkerRanStartsOnceAWorkerStarts), worker: false, ct);
        var job = await rig.SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "missed" }, delay_seconds = 1 }, ct);
        var runAt = DateTimeOffset.Parse((string)job["run_at"]!, CultureInfo.InvariantCulture);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > runAt.AddSeconds(1)), TimeSpan.FromSeconds(10));
        Assert.Equal("scheduled", (string?)(await rig.StatusAsync(job, ct))["status"]);

        await rig.StartWorkerAsync(ct);
        var workerStarted = DateTimeOffset.UtcNow;
        var done = await JobPolling.WaitForTerminalAsync(rig.Client, (string)job["status_url"]!, TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(1, (int)done["attempt"]!);
        var started = DateTimeOffset.Parse((string)done["started_at"]!, CultureInfo.InvariantCulture);
        Assert.True(started - workerStarted < TimeSpan.FromSeconds(5), $"started {(started - workerStarted).TotalSeconds:F1} s after the worker");
    }
}
