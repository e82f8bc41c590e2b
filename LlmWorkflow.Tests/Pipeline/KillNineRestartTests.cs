using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// kill -9 of real API and worker processes (<see cref="ApiProcess"/>, <see cref="WorkerProcess"/>) while jobs wait,
/// on real PostgreSQL and redis-server. Jobs scheduled (<c>run_at</c>), sleeping (a <c>sleep</c> step) and waiting
/// (<c>wait_for_event</c>) when every process dies, and signals sent while the worker is dead and while the API is
/// being killed: nothing is lost, no LLM call is made twice, and every job starts at its time — or, when everything
/// was down at that time, as soon as the service is back. A schedule ticking every second on two APIs and three
/// workers through kill -9 of some and then all workers: one job per tick, every tick recorded (the outage's ticks as
/// skipped, reason <c>missed</c>), no tick decided twice.
/// </summary>
[SystemTest]
[Collection(TimeBoundTests.Name)]
public sealed class KillNineRestartTests(TestServers servers)
{
    /// <summary>A bound on "at its time" on a loaded CI machine — a correctness check; bench/timers.sh measures lateness.</summary>
    private static readonly TimeSpan OnTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How soon after the restarted worker says it started a job due during the outage must start: a cold process on a
    /// loaded CI machine takes seconds over its first jobs (it is seconds, not the next reconcile pass or a lease).
    /// </summary>
    private static readonly TimeSpan SoonAfterRestart = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ParkedJobsAndArrivingSignalsSurviveKillNineOfTheApiAndTheWorker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(ParkedJobsAndArrivingSignalsSurviveKillNineOfTheApiAndTheWorker));
        // The shipped reconcile interval: the waker's push, not the safety-net pass, must start what falls due.
        await using var fleet = new Fleet(environment.Settings(PipelineTestWorkflows.Settings(llm, new Dictionary<string, string?> { ["Worker:ReconcileInterval"] = "00:00:03" })));
        var api = await fleet.StartApiAsync();
        var worker = await fleet.StartWorkerAsync("first");
        using var client = api.CreateClient();

        // Waiting jobs first (no due time), then sleepers whose first call is held until everything else is parked, so
        // their wake-ups fall after the kill: the "down" ones while every process is dead, the "after" ones once back.
        var waiters = new Dictionary<string, List<Parked>>();
        var jobs = new List<Parked>();
        foreach (var (group, count) in new[] { ("worker-dead", 3), ("api-killed", 5), ("after", 3) })
        {
            waiters[group] = [];
            for (var i = 0; i < count; i++)
            {
                var topic = Topic($"wait-{group}", i);
                waiters[group].Add(new Parked(await SubmitAsync(client, new { workflow_name = "llm_wait_long", input_data = new { topic } }, ct), Kind.Signal, topic));
            }

            jobs.AddRange(waiters[group]);
        }

        await WaitForParkedAsync(client, jobs, ct);
        var release = new TaskCompletionSource();
        llm.AnswerGate = release.Task;
        var sleepers = new List<Parked>();
        foreach (var (group, seconds) in new[] { ("down", 15), ("after", 50) })
        {
            for (var i = 0; i < 3; i++)
            {
                var topic = Topic($"sleep-{group}", i);
                sleepers.Add(new Parked(await SubmitAsync(client, new { workflow_name = "llm_sleep_llm", input_data = new { topic, seconds } }, ct), Kind.Sleep, topic));
            }
        }

        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(sleepers.All(j => PipelineTestWorkflows.CallsContaining(llm, $"about {j.Topic}.") == 1)), Patience);
        llm.AnswerGate = Task.CompletedTask;
        release.SetResult();
        await WaitForParkedAsync(client, sleepers, ct);
        jobs.AddRange(sleepers);
        var now = DateTimeOffset.UtcNow;
        foreach (var (group, seconds) in new[] { ("down", 6), ("after", 45) })
        {
            for (var i = 0; i < 3; i++)
            {
                var topic = Topic($"run-at-{group}", i);
                var id = await SubmitAsync(client, new { workflow_name = "one_llm_step", input_data = new { question = topic }, run_at = now.AddSeconds(seconds) }, ct);
                jobs.Add(new Parked(id, Kind.RunAt, topic) { DueAt = now.AddSeconds(seconds) });
            }
        }

        // The worker dies; signals still arrive at the API (stored, the jobs queued for any worker).
        await worker.KillAsync();
        var killedAt = DateTimeOffset.UtcNow;
        Assert.All(jobs.Where(j => j.DueAt is not null), j => Assert.True(j.DueAt > killedAt, $"{j.Topic} was due before the kill: the machine is too slow for this test's margins"));
        foreach (var job in waiters["worker-dead"])
        {
            var (status, answer) = await SignalAsync(client, job.Id, $"dead-{job.Topic}", job.Topic, ct);
            Assert.True(status == HttpStatusCode.Accepted && (string?)answer!["status"] == "resumed", $"{(int)status}: {answer?.ToJsonString()}");
        }

        // The API dies while signals are on their way: some answered, some cut off; a client retries those with its key.
        var inFlight = waiters["api-killed"].Select(job => TrySignalAsync(client, job, ct)).ToArray();
        await api.KillAsync();
        var firstTries = await Task.WhenAll(inFlight);

        // Every process is dead past the "down" due times; then a new API and a new worker.
        var downDue = jobs.Where(j => j.Topic.Contains("-down-", StringComparison.Ordinal)).Max(j => j.DueAt!.Value);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > downDue.AddMilliseconds(500)), Patience);
        api = await fleet.StartApiAsync();
        using var back = api.CreateClient();
        var restartingAt = DateTimeOffset.UtcNow;
        await fleet.StartWorkerAsync("second");
        var backUpAt = DateTimeOffset.UtcNow;

        foreach (var (job, answered) in waiters["api-killed"].Zip(firstTries).Where(t => t.Second is null))
        {
            var (status, answer) = await SignalAsync(back, job.Id, $"retry-{job.Topic}", job.Topic, ct);
            Assert.True(status is HttpStatusCode.Accepted or HttpStatusCode.OK, $"the retried signal for {job.Topic}: {(int)status} {answer?.ToJsonString()}");
        }

        // What fell due during the outage runs first; then the waits that outlived it are signalled (the new worker is
        // warm by then, so the on-time bound holds), and what falls due later wakes on time.
        var late = new List<string>();
        var signalledAfter = waiters["after"].ToHashSet();
        foreach (var job in jobs.Where(j => !signalledAfter.Contains(j)).OrderBy(j => j.DueAt ?? restartingAt))
        {
            late.AddRange(await FinishedInTimeAsync(back, llm, job, restartingAt, backUpAt, ct));
        }

        foreach (var job in waiters["after"])
        {
            job.DueAt = DateTimeOffset.UtcNow;
            var (status, _) = await SignalAsync(back, job.Id, job.Topic, job.Topic, ct);
            Assert.Equal(HttpStatusCode.Accepted, status);
        }

        foreach (var job in waiters["after"])
        {
            late.AddRange(await FinishedInTimeAsync(back, llm, job, restartingAt, backUpAt, ct));
        }

        Assert.True(late.Count == 0, string.Join("\n", late));

        foreach (var job in waiters.Values.SelectMany(w => w))
        {
            var inbox = await back.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{job.Id}/signals", ct);
            Assert.Single(inbox!["signals"]!.AsArray(), s => s!["taken_by_step"] is not null);
        }
    }

    [Fact]
    public async Task AScheduleOnTwoApisAndThreeWorkersStartsOneJobPerTickThroughKillNine()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AScheduleOnTwoApisAndThreeWorkersStartsOneJobPerTickThroughKillNine));
        await using var fleet = new Fleet(environment.Settings(new Dictionary<string, string?>
        {
            ["Worker:ReconcileInterval"] = "00:00:03",
            // A tick's job whose worker is killed under it is reclaimed within seconds, not the shipped lease.
            ["Worker:LeaseDuration"] = "00:00:02",
            ["Worker:ReclaimInterval"] = "00:00:00.500",
            ["Worker:RedispatchAfter"] = "00:00:03",
        }));
        var apis = await Task.WhenAll(fleet.StartApiAsync(), fleet.StartApiAsync());
        var workers = await Task.WhenAll(fleet.StartWorkerAsync("a"), fleet.StartWorkerAsync("b"), fleet.StartWorkerAsync("c"));
        using var client = apis[0].CreateClient();
        using var creator = apis[1].CreateClient();
        using var created = await creator.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "every second",
            workflow_name = "hello_transform",
            cron = "* * * * * *",
            overlap = "allow",
            input_data = new { name = "tick" },
        }, ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var scheduleId = Guid.Parse((string)(await created.Content.ReadFromJsonAsync<JsonObject>(ct))!["schedule_id"]!);
        var ticks = new TickLedger(environment.PostgresConnectionString, scheduleId);

        // One worker and one API die while it ticks; then the other two workers: no ticker is left for a while.
        await ticks.WaitForStartedAsync(after: DateTimeOffset.MinValue, count: 6, ct);
        await Task.WhenAll(workers[0].KillAsync(), apis[1].KillAsync());
        await ticks.WaitForStartedAsync(after: DateTimeOffset.UtcNow, count: 5, ct);
        await Task.WhenAll(workers[1].KillAsync(), workers[2].KillAsync());
        var allDownAt = DateTimeOffset.UtcNow;
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > allDownAt.AddSeconds(3)), Patience);
        await Task.WhenAll(fleet.StartWorkerAsync("d"), fleet.StartApiAsync());
        await ticks.WaitForStartedAsync(after: DateTimeOffset.UtcNow, count: 6, ct);
        // The pause's UPDATE waits for the row lock of a tick being decided: when it returns, every tick is final.
        using var paused = await client.PatchAsJsonAsync($"/api/v1/schedules/{scheduleId}", new { paused = true }, ct);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);

        var rows = await ticks.ReadAsync(ct);
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].TickAt == rows[i - 1].TickAt.AddSeconds(rows[i - 1].Count), $"a gap or an overlap before the tick at {rows[i].TickAt:O}: {string.Join(", ", rows)}");
        }

        Assert.All(rows.Where(r => r.Outcome != "started"), r => Assert.Equal(("skipped", "missed"), (r.Outcome, r.Reason)));
        Assert.Contains(rows, r => r.Reason == "missed" && r.TickAt >= allDownAt.AddSeconds(-1));
        var started = rows.Where(r => r.Outcome == "started").Select(r => r.JobId!.Value).ToList();
        Assert.Equal(started.Count, started.Distinct().Count());
        var scheduleJobs = await TestSql.QueryIdsAsync(environment.PostgresConnectionString, "SELECT id FROM llm_workflow_jobs WHERE schedule_id = @id", ct, ("id", scheduleId));
        Assert.Equal(started.Order(), scheduleJobs.Order());
        foreach (var job in started)
        {
            var done = await JobPolling.WaitForTerminalAsync(client, StatusUrl(job.ToString()), Patience, ct);
            Assert.Equal("completed", (string?)done["status"]);
        }
    }

    private enum Kind
    {
        RunAt,
        Sleep,
        Signal,
    }

    private static string Topic(string group, int i) => $"k9-{group}-{i}-end";

    /// <summary>Waits until every job of <paramref name="parked"/> is waiting; a sleeper's due time is its wake-up.</summary>
    private static async Task WaitForParkedAsync(HttpClient client, List<Parked> parked, CancellationToken ct)
    {
        foreach (var job in parked)
        {
            var waiting = await JobPolling.WaitForStatusAsync(client, StatusUrl(job.Id), "waiting", Patience, ct);
            job.DueAt = job.Kind == Kind.Sleep ? Time(waiting["waiting_for"]!["until"]) : null;
        }
    }

    private static string StatusUrl(string jobId) => $"/api/v1/status/{jobId}";

    private static DateTimeOffset Time(JsonNode? value) => DateTimeOffset.Parse((string)value!, CultureInfo.InvariantCulture);

    /// <summary>Waits until the job completed; checks each LLM call was made once; returns how it started out of time, if it did.</summary>
    private static async Task<IEnumerable<string>> FinishedInTimeAsync(
        HttpClient client, FakeOpenAiServer llm, Parked job, DateTimeOffset restartingAt, DateTimeOffset backUpAt, CancellationToken ct)
    {
        var done = await JobPolling.WaitForTerminalAsync(client, StatusUrl(job.Id), Patience, ct);
        Assert.True((string?)done["status"] == "completed", $"{job.Topic}: {done.ToJsonString()}");
        AssertEachLlmCallMadeOnce(llm, job);
        return [.. StartedOutOfTime(job, done, restartingAt, backUpAt)];
    }

    /// <summary>
    /// Whether a job started at or after its due time, within <see cref="OnTime"/> of it when the service was up then,
    /// within <see cref="SoonAfterRestart"/> of the worker's restart when it was down (a signal sent to a dead worker
    /// is due when the new worker starts); a description of each breach.
    /// </summary>
    private static IEnumerable<string> StartedOutOfTime(Parked job, JsonObject done, DateTimeOffset restartingAt, DateTimeOffset backUpAt)
    {
        var started = job.Kind == Kind.RunAt
            ? Time(done["started_at"])
            : Time(done["steps"]!.AsArray().Single(s => (string?)s!["step_id"] == "second")!["started_at"]);
        var due = job.DueAt ?? restartingAt;
        if (started < due.AddMilliseconds(-5))
        {
            yield return $"{job.Topic} started {(due - started).TotalMilliseconds:F0} ms before its time";
        }

        var late = due > backUpAt ? started - due : started - backUpAt;
        if (late >= (due > backUpAt ? OnTime : SoonAfterRestart))
        {
            yield return $"{job.Topic} started {late.TotalMilliseconds:F0} ms late (due {due:O}, service back {backUpAt:O})";
        }
    }

    private static void AssertEachLlmCallMadeOnce(FakeOpenAiServer llm, Parked job)
    {
        if (job.Kind == Kind.RunAt)
        {
            Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, $"ONLY: answer {job.Topic}"));
            return;
        }

        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, $"about {job.Topic}."));
        Assert.Equal(1, PipelineTestWorkflows.CallsContaining(llm, $"SECOND: about {job.Topic},"));
    }

    private static async Task<string> SubmitAsync(HttpClient client, object body, CancellationToken ct)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", body, ct);
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, answer?.ToJsonString());
        return (string)answer!["job_id"]!;
    }

    private static async Task<(HttpStatusCode Status, JsonObject? Answer)> SignalAsync(HttpClient client, string jobId, string idempotencyKey, string comment, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/jobs/{jobId}/signals/approval")
        {
            Content = new StringContent(new JsonObject { ["comment"] = comment }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await client.SendAsync(request, ct);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonObject>(ct));
    }

    /// <summary>A signal sent while the API is being killed: its answer, or null when the connection was cut first.</summary>
    private static async Task<HttpStatusCode?> TrySignalAsync(HttpClient client, Parked job, CancellationToken ct)
    {
        try
        {
            var (status, _) = await SignalAsync(client, job.Id, $"retry-{job.Topic}", job.Topic, ct);
            Assert.Equal(HttpStatusCode.Accepted, status);
            return status;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null; // the answer's body was cut off: the client cannot know, so it retries with its key
        }
    }

    private sealed class Parked(string id, Kind kind, string topic)
    {
        public string Id { get; } = id;

        public Kind Kind { get; } = kind;

        public string Topic { get; } = topic;

        /// <summary>When it is due to go on: its run_at or wake-up time; for a signal, when its 202 came after the restart.</summary>
        public DateTimeOffset? DueAt { get; set; }
    }

    private sealed record Tick(DateTimeOffset TickAt, string Outcome, string? Reason, Guid? JobId, int Count);

    /// <summary>The schedule's rows in <c>llm_schedule_ticks</c>, read straight from PostgreSQL.</summary>
    private sealed class TickLedger(string connectionString, Guid scheduleId)
    {
        public async Task<List<Tick>> ReadAsync(CancellationToken ct)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand(
                "SELECT tick_at, outcome, reason, job_id, tick_count FROM llm_schedule_ticks WHERE schedule_id = @id ORDER BY tick_at", connection);
            command.Parameters.AddWithValue("id", scheduleId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = new List<Tick>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(new Tick(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.GetInt32(4)));
            }

            return rows;
        }

        /// <summary>Waits until <paramref name="count"/> ticks later than <paramref name="after"/> started a job.</summary>
        public Task WaitForStartedAsync(DateTimeOffset after, int count, CancellationToken ct) =>
            WorkerCrashTests.WaitUntilAsync(async () => (await ReadAsync(ct)).Count(t => t.Outcome == "started" && t.TickAt > after) >= count, Patience);
    }

    /// <summary>The API and worker processes a test started; whatever still runs at the end is killed.</summary>
    private sealed class Fleet(Dictionary<string, string?> settings) : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _started = [];

        public async Task<ApiProcess> StartApiAsync()
        {
            var api = await ApiProcess.StartAsync(settings);
            lock (_started)
            {
                _started.Add(api);
            }

            return api;
        }

        public async Task<WorkerProcess> StartWorkerAsync(string name)
        {
            var worker = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["Worker:Id"] = $"kill-nine-{name}" });
            lock (_started)
            {
                _started.Add(worker);
            }

            return worker;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var process in _started)
            {
                await process.DisposeAsync();
            }
        }
    }
}
