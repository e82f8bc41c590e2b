using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Schedules;

/// <summary>
/// A schedule's extras (issue 80 item 8b, Temporal's): <c>jitter_seconds</c> makes each tick's job wait scheduled
/// until its tick plus an offset within the bound, <c>start_at</c>/<c>end_at</c> keep ticks inside the window, and bad
/// values are refused naming the field. TickPlanner's window and jitter are proven tick by tick in ScheduleCronTests.
/// </summary>
[IntegrationTest]
public sealed class ScheduleExtrasTests(TestServers servers)
{
    [Fact]
    public async Task AJitteredScheduleInAWindowStartsItsFirstTickAtStartAtAndItsJobWithinTheJitter()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AJitteredScheduleInAWindowStartsItsFirstTickAtStartAtAndItsJobWithinTheJitter));
        var settings = environment.Settings(new Dictionary<string, string?> { ["Worker:ReconcileInterval"] = "00:00:03" });
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        var startAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var window = new { start_at = Rfc3339(startAt), end_at = Rfc3339(startAt.AddSeconds(1)) };
        using var created = await client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "jittered", workflow_name = "hello_transform", cron = "* * * * * *", input_data = new { name = "j" },
            jitter_seconds = 2, window.start_at, window.end_at, overlap = "allow",
        }, ct);
        var body = await created.Content.ReadAsStringAsync(ct);
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        var schedule = JsonNode.Parse(body)!;
        var firstTick = DateTimeOffset.Parse((string)schedule["next_run_at"]!, CultureInfo.InvariantCulture);
        Assert.InRange(firstTick - startAt, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.Equal(2, (int)schedule["jitter_seconds"]!);
        Assert.InRange(schedule["next_runs"]!.AsArray().Count, 1, 2);

        // Every job of the two ticks in the window completes, each started no earlier than its tick and within the jitter.
        var jobs = await WaitForJobsAsync(client, (string)schedule["jobs_url"]!, ct);
        Assert.InRange(jobs.Count, 1, 2);
        foreach (var job in jobs)
        {
            var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/jobs/{job!["job_id"]}", TimeSpan.FromSeconds(30), ct);
            Assert.Equal("completed", (string?)done["status"]);
            var started = DateTimeOffset.Parse((string)done["started_at"]!, CultureInfo.InvariantCulture);
            Assert.InRange(started - firstTick, TimeSpan.Zero, TimeSpan.FromSeconds(5));
            Assert.True(started <= startAt.AddSeconds(1).AddSeconds(2).AddSeconds(2), $"started {started:O}");
        }

        var ticks = await client.GetFromJsonAsync<JsonObject>((string)schedule["ticks_url"]!, ct);
        Assert.All(ticks!["ticks"]!.AsArray(), t => Assert.InRange(DateTimeOffset.Parse((string)t!["tick_at"]!, CultureInfo.InvariantCulture), firstTick, startAt.AddSeconds(1)));

        using var bad = await client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "bad", workflow_name = "hello_transform", cron = "* * * * *", input_data = new { name = "b" }, jitter_seconds = 4000,
            start_at = "tomorrow", end_at = "2020-01-01T00:00:00Z",
        }, ct);
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(["end_at", "jitter_seconds", "start_at"], problem["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ABackfillStartsEachPastTickOnceAndARepeatStartsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ABackfillStartsEachPastTickOnceAndARepeatStartsNothing));
        await using var api = new ApiFactory(environment.Settings(new Dictionary<string, string?>()));
        using var client = api.CreateAuthenticatedClient();
        using var created = await client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "hourly", workflow_name = "hello_transform", cron = "0 * * * *", input_data = new { name = "b" },
        }, ct);
        var schedule = JsonNode.Parse(await created.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (string)schedule["schedule_id"]!;
        var now = DateTimeOffset.UtcNow;
        var range = new { from = Rfc3339(now.AddHours(-3)), to = Rfc3339(now) };

        using var first = await client.PostAsJsonAsync($"/api/v1/schedules/{id}/backfill", range, ct);
        var filled = JsonNode.Parse(await first.Content.ReadAsStringAsync(ct))!;
        Assert.True(first.StatusCode == HttpStatusCode.OK, filled.ToJsonString());
        var started = filled["started"]!.AsArray();
        Assert.Equal(3, started.Count);
        Assert.All(started, t => Assert.Equal(0, DateTimeOffset.Parse((string)t!["tick_at"]!, CultureInfo.InvariantCulture).Minute));
        Assert.Empty(filled["already_started"]!.AsArray());

        using var repeat = await client.PostAsJsonAsync($"/api/v1/schedules/{id}/backfill", range, ct);
        var again = JsonNode.Parse(await repeat.Content.ReadAsStringAsync(ct))!;
        Assert.Empty(again["started"]!.AsArray());
        Assert.Equal(3, again["already_started"]!.AsArray().Count);

        var jobs = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?schedule_id={id}&status_filter=all", ct))!["jobs"]!.AsArray();
        Assert.Equal(started.Select(t => (string?)t!["job_id"]).Order(), jobs.Select(j => (string?)j!["job_id"]).Order());
        var ticks = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{id}/ticks", ct))!["ticks"]!.AsArray();
        Assert.Equal(3, ticks.Count(t => (string?)t!["outcome"] == "started"));

        using var future = await client.PostAsJsonAsync($"/api/v1/schedules/{id}/backfill", new { from = range.from, to = Rfc3339(now.AddHours(1)) }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, future.StatusCode);
        Assert.Equal(["to"], JsonNode.Parse(await future.Content.ReadAsStringAsync(ct))!["errors"]!.AsObject().Select(e => e.Key));
    }

    private static async Task<JsonArray> WaitForJobsAsync(HttpClient client, string jobsUrl, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            var page = (await client.GetFromJsonAsync<JsonObject>(jobsUrl + "&status_filter=all", ct))!["jobs"]!.AsArray();
            if (page.Count > 0 && page.All(j => (string?)j!["status"] is "completed"))
            {
                return page;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"no finished jobs at {jobsUrl}: {page.ToJsonString()}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
        }
    }

    private static string Rfc3339(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
