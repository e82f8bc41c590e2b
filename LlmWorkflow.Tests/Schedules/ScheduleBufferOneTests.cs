using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Schedules;

/// <summary>
/// <c>overlap: buffer_one</c> (issue 80, Temporal's BUFFER_ONE) on real PostgreSQL, Redis and a worker: of three
/// every-second ticks that come while the first tick's job still runs (it sleeps 4 s between two LLM calls), the
/// second is buffered and its job starts right after the first job ends, the third is skipped (reason overlap). The
/// start is pushed by the first job's terminal transition (a trigger's pg_notify the ticker listens on): after the
/// window closes the ticker sleeps up to its one-minute reread and the reconcile pass is off, so a start within five
/// seconds (generous for a loaded machine) is the push.
/// </summary>
[IntegrationTest]
public sealed class ScheduleBufferOneTests(TestServers servers)
{
    private static readonly TimeSpan PushedStart = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task AThirdTickIsSkippedAndTheBufferedSecondStartsRightAfterTheFirstJobEnds()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AThirdTickIsSkippedAndTheBufferedSecondStartsRightAfterTheFirstJobEnds));
        var settings = environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?>
        {
            ["Worker:ReconcileInterval"] = ApiWorkerRig.SafetyNetOff,
        }));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        // Three ticks: the window's first second and the two after it.
        var now = DateTimeOffset.UtcNow;
        var startAt = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero).AddSeconds(3);
        using var created = await client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "buffered", workflow_name = "llm_sleep_llm", cron = "* * * * * *", input_data = new { topic = "buffer", seconds = 4 },
            overlap = "buffer_one", start_at = Rfc3339(startAt), end_at = Rfc3339(startAt.AddSeconds(2)),
        }, ct);
        var body = await created.Content.ReadAsStringAsync(ct);
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        var schedule = JsonNode.Parse(body)!;
        Assert.Equal("buffer_one", (string?)schedule["overlap"]);
        var id = (string)schedule["schedule_id"]!;

        // All three decided while the first job sleeps: started, buffered, skipped.
        var ticks = await WaitForTicksAsync(client, id, t => t.Length == 3, ct);
        Assert.Equal([("started", null), ("buffered", null), ("skipped", "overlap")], ticks.Select(t => ((string?)t["outcome"], (string?)t["reason"])));
        Assert.Equal([startAt, startAt.AddSeconds(1), startAt.AddSeconds(2)], ticks.Select(t => Time(t["tick_at"])));
        var first = (string)ticks[0]["job_id"]!;
        var whileBuffered = await client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{id}", ct);
        var firstStatus = await client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{first}", ct);
        Assert.True((string?)firstStatus!["status"] is not ("completed" or "failed" or "cancelled"), firstStatus.ToJsonString());
        Assert.Equal(startAt.AddSeconds(1), Time(whileBuffered!["buffered_tick_at"]));

        // The first job ends; the buffered tick's job starts at once, and it is the only other job.
        ticks = await WaitForTicksAsync(client, id, t => t.Length == 3 && (string?)t[1]["outcome"] == "started", ct);
        var second = (string)ticks[1]["job_id"]!;
        var firstDone = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/jobs/{first}", TimeSpan.FromSeconds(30), ct);
        var secondDone = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/jobs/{second}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal(("completed", "completed"), ((string?)firstDone["status"], (string?)secondDone["status"]));
        var gap = Time(secondDone["created_at"]) - Time(firstDone["completed_at"]);
        TestContext.Current.SendDiagnosticMessage($"buffered tick's job created {gap.TotalMilliseconds:F0} ms after the first job ended");
        Assert.True(gap >= TimeSpan.Zero && gap < PushedStart, $"the buffered tick's job was created {gap.TotalMilliseconds:F0} ms after the first job ended");
        Assert.True(Time(secondDone["started_at"]) >= Time(firstDone["completed_at"]), "the buffered tick's job ran beside the first");

        var jobs = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?schedule_id={id}&status_filter=all", ct))!["jobs"]!.AsArray();
        Assert.Equal(new[] { first, second }.Order(), jobs.Select(j => (string)j!["job_id"]!).Order());
        var after = await client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{id}", ct);
        Assert.Null(after!["buffered_tick_at"]);

        using var bad = await client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "misspelt", workflow_name = "llm_sleep_llm", cron = "0 * * * *", input_data = new { topic = "b", seconds = 1 }, overlap = "buffer_two",
        }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(["overlap"], problem["errors"]!.AsObject().Select(e => e.Key));
        Assert.Contains("buffer_one", (string)problem["errors"]!["overlap"]![0]!, StringComparison.Ordinal);
    }

    /// <summary>The schedule's ticks, oldest first, once <paramref name="done"/> holds for them.</summary>
    private static async Task<JsonObject[]> WaitForTicksAsync(HttpClient client, string scheduleId, Func<JsonObject[], bool> done, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            var page = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{scheduleId}/ticks", ct))!["ticks"]!.AsArray();
            JsonObject[] ticks = [.. page.Select(t => t!.AsObject()).Reverse()];
            if (done(ticks))
            {
                return ticks;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"ticks never got there: {page.ToJsonString()}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    private static DateTimeOffset Time(JsonNode? value) => DateTimeOffset.Parse((string)value!, CultureInfo.InvariantCulture);

    private static string Rfc3339(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
