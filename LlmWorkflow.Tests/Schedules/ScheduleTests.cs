using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Schedules;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Tests.Schedules;

/// <summary>
/// Schedules on real PostgreSQL and redis-server: the routes with their validation (400 naming the field), tenant
/// isolation and idempotent create; the tick runner under a manual clock (overlap skip, allow and cancel_previous;
/// catch-up none, last and all within the window), and real workers: an every-second schedule starts one job per
/// tick, and two workers' tickers together still start exactly one job per tick.
/// </summary>
[IntegrationTest]
public sealed class ScheduleTests(TestServers servers)
{
    private const string OtherTenantKey = "other-tenant-key";

    [Fact]
    public async Task ASchedulesRoutesCreateListGetChangeAndDeleteIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(ASchedulesRoutesCreateListGetChangeAndDeleteIt), ct);
        using var created = await rig.Client.PostAsJsonAsync("/api/v1/schedules", new
        {
            name = "weekday digest",
            workflow_name = "hello_transform",
            cron = "0 9 * * 1-5",
            timezone = "Europe/Berlin",
            input_data = new { name = "digest" },
        }, ct);
        var schedule = await ReadAsync(created, HttpStatusCode.Created, ct);
        var id = (string)schedule["schedule_id"]!;
        Assert.Equal($"/api/v1/schedules/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal(("skip", "last", false), ((string?)schedule["overlap"], (string?)schedule["catch_up"], (bool)schedule["paused"]!));
        var nextRuns = schedule["next_runs"]!.AsArray();
        Assert.Equal(5, nextRuns.Count);
        foreach (var run in nextRuns)
        {
            var local = DateTimeOffset.Parse((string)run!["local"]!, CultureInfo.InvariantCulture);
            var utc = DateTimeOffset.Parse((string)run["utc"]!, CultureInfo.InvariantCulture);
            Assert.Equal(utc, local);
            Assert.Equal(TimeSpan.Zero, utc.Offset);
            Assert.Equal((9, 0), (local.Hour, local.Minute));
            Assert.Contains(local.Offset, new[] { TimeSpan.FromHours(1), TimeSpan.FromHours(2) });
            Assert.InRange(local.DayOfWeek, DayOfWeek.Monday, DayOfWeek.Friday);
        }

        var listed = await rig.Client.GetFromJsonAsync<JsonObject>("/api/v1/schedules", ct);
        Assert.Equal([id], listed!["schedules"]!.AsArray().Select(s => (string)s!["schedule_id"]!));
        var fetched = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{id}", ct);
        Assert.Equal(nextRuns.ToJsonString(), fetched!["next_runs"]!.ToJsonString());

        using var patched = await rig.Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { paused = true, cron = "*/5 * * * *", overlap = "allow" }, ct);
        var changed = await ReadAsync(patched, HttpStatusCode.OK, ct);
        Assert.Equal((true, "*/5 * * * *", "allow", "last"), ((bool)changed["paused"]!, (string?)changed["cron"], (string?)changed["overlap"], (string?)changed["catch_up"]));
        Assert.InRange(DateTimeOffset.Parse((string)changed["next_run_at"]!, CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        using var resumed = await rig.Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { paused = false }, ct);
        Assert.False((bool)(await ReadAsync(resumed, HttpStatusCode.OK, ct))["paused"]!);

        using var badPatch = await rig.Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { timezone = "Nowhere/Land", catch_up = "sometimes" }, ct);
        Assert.Equal(["catch_up", "timezone"], await ProblemFieldsAsync(badPatch, ct));

        using var deleted = await rig.Client.DeleteAsync($"/api/v1/schedules/{id}", ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await rig.Client.GetAsync($"/api/v1/schedules/{id}", ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var deletedAgain = await rig.Client.DeleteAsync($"/api/v1/schedules/{id}", ct);
        Assert.Equal(HttpStatusCode.NotFound, deletedAgain.StatusCode);
    }

    [Fact]
    public async Task InvalidSchedulesAreRefusedNamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(InvalidSchedulesAreRefusedNamingTheField), ct);
        (JsonObject Changes, string[] Fields)[] cases =
        [
            (new JsonObject { ["workflow_name"] = "no_such_workflow" }, ["workflow_name"]),
            (new JsonObject { ["cron"] = "61 * * * *" }, ["cron"]),
            (new JsonObject { ["cron"] = "* * *" }, ["cron"]),
            (new JsonObject { ["cron"] = "0 0 30 2 *" }, ["cron"]),
            (new JsonObject { ["cron"] = "" }, ["cron"]),
            (new JsonObject { ["cron"] = null }, ["cron"]),
            (new JsonObject { ["timezone"] = "Mars/Olympus_Mons" }, ["timezone"]),
            (new JsonObject { ["overlap"] = "sometimes" }, ["overlap"]),
            (new JsonObject { ["catch_up"] = "everything" }, ["catch_up"]),
            (new JsonObject { ["input_data"] = new JsonArray(1, 2) }, ["input_data"]),
            (new JsonObject { ["input_data"] = new JsonObject { ["name"] = 5 } }, ["input_data.name"]),
            (new JsonObject { ["webhook_url"] = "http://127.0.0.1/hook", ["webhook_secret"] = "s3cret" }, ["webhook_url"]),
            (new JsonObject { ["priority"] = 11 }, ["priority"]),
            (new JsonObject { ["name"] = "" }, ["name"]),
        ];
        foreach (var (changes, fields) in cases)
        {
            var body = ValidBody();
            foreach (var (key, value) in changes)
            {
                body[key] = value?.DeepClone();
            }

            using var response = await rig.Client.PostAsJsonAsync("/api/v1/schedules", body, ct);
            Assert.Equal(fields, await ProblemFieldsAsync(response, ct));
        }

        var listed = await rig.Client.GetFromJsonAsync<JsonObject>("/api/v1/schedules", ct);
        Assert.Empty(listed!["schedules"]!.AsArray());
    }

    [Fact]
    public async Task AnotherTenantsScheduleIsNotFoundAndARepeatedIdempotencyKeyReturnsTheSameSchedule()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(AnotherTenantsScheduleIsNotFoundAndARepeatedIdempotencyKeyReturnsTheSameSchedule), ct);
        var first = await CreateWithKeyAsync(rig.Client, "nightly-1", HttpStatusCode.Created, ct);
        var again = await CreateWithKeyAsync(rig.Client, "nightly-1", HttpStatusCode.Created, ct);
        // The original answer again (the IETF idempotency-key draft): the same status and the same body.
        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        using (var conflicting = new HttpRequestMessage(HttpMethod.Post, "/api/v1/schedules") { Content = JsonContent.Create(Renamed(ValidBody(), "another")) })
        {
            conflicting.Headers.Add("Idempotency-Key", "nightly-1");
            using var refused = await rig.Client.SendAsync(conflicting, ct);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            Assert.Equal("idempotency_key_conflict", (string?)(await ReadAsync(refused, HttpStatusCode.UnprocessableEntity, ct))["error"]);
        }

        using var other = rig.CreateClient(OtherTenantKey);
        var theirs = await CreateWithKeyAsync(other, "nightly-1", HttpStatusCode.Created, ct);
        Assert.NotEqual((string?)first["schedule_id"], (string?)theirs["schedule_id"]);

        var id = (string)first["schedule_id"]!;
        foreach (var request in new Func<Task<HttpResponseMessage>>[]
                 {
                     () => other.GetAsync($"/api/v1/schedules/{id}", ct),
                     () => other.GetAsync($"/api/v1/schedules/{id}/ticks", ct),
                     () => other.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { paused = true }, ct),
                     () => other.DeleteAsync($"/api/v1/schedules/{id}", ct),
                 })
        {
            using var response = await request();
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var theirList = await other.GetFromJsonAsync<JsonObject>("/api/v1/schedules", ct);
        Assert.Equal([(string)theirs["schedule_id"]!], theirList!["schedules"]!.AsArray().Select(s => (string)s!["schedule_id"]!));
        var mine = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{id}", ct);
        Assert.False((bool)mine!["paused"]!);
    }

    [Fact]
    public async Task OverlapSkipRecordsTheTickAndCancelPreviousCancelsTheUnfinishedJob()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(OverlapSkipRecordsTheTickAndCancelPreviousCancelsTheUnfinishedJob), ct);
        var schedule = await rig.CreateAsync(new { cron = "0 * * * *" }, ct);
        var id = (string)schedule["schedule_id"]!;
        var due = DateTimeOffset.Parse((string)schedule["next_run_at"]!, CultureInfo.InvariantCulture);
        var clock = new ManualClock(due);
        var runner = rig.Runner(clock, new ScheduleOptions());

        // No worker runs: the first tick's job stays queued, so the next tick overlaps it.
        Assert.Equal(1, await runner.RunDueAsync(ct));
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, await runner.RunDueAsync(ct));
        var ticks = await rig.TicksAsync(id, ct);
        Assert.Equal([("started", null), ("skipped", "overlap")], ticks.Select(t => ((string?)t["outcome"], (string?)t["reason"])).Reverse());
        var firstJob = (string)ticks[^1]["job_id"]!;
        var status = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{firstJob}", ct);
        Assert.Equal((id, "queued"), ((string?)status!["schedule_id"], (string?)status["status"]));

        using var patched = await rig.Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { overlap = "cancel_previous" }, ct);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, await runner.RunDueAsync(ct));
        ticks = await rig.TicksAsync(id, ct);
        Assert.Equal(("started", null), ((string?)ticks[0]["outcome"], (string?)ticks[0]["reason"]));
        Assert.Equal("cancelled", (string?)(await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{firstJob}", ct))!["status"]);

        var jobs = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?schedule_id={id}", ct);
        Assert.All(jobs!["jobs"]!.AsArray(), j => Assert.Equal(id, (string?)j!["schedule_id"]));
        Assert.Equal(new[] { (string)ticks[0]["job_id"]!, firstJob }.Order(), jobs!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).Order());
        using var badFilter = await rig.Client.GetAsync("/api/v1/jobs?schedule_id=nope", ct);
        Assert.Equal(["schedule_id"], await ProblemFieldsAsync(badFilter, ct));
    }

    [Fact]
    public async Task AfterDowntimeCatchUpRunsNoneTheLastOrEveryTickWithinTheWindow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(AfterDowntimeCatchUpRunsNoneTheLastOrEveryTickWithinTheWindow), ct);
        var ids = new Dictionary<string, string>();
        DateTimeOffset due = default;
        foreach (var policy in ScheduleCatchUp.Values)
        {
            var schedule = await rig.CreateAsync(new { cron = "0 * * * *", catch_up = policy, overlap = "allow" }, ct);
            ids[policy] = (string)schedule["schedule_id"]!;
            due = DateTimeOffset.Parse((string)schedule["next_run_at"]!, CultureInfo.InvariantCulture);
        }

        // Down from the first tick until 10 minutes past the sixth; the window reaches back 3 hours (to the 3rd tick's 10 minutes past).
        var clock = new ManualClock(due + TimeSpan.FromHours(5) + TimeSpan.FromMinutes(10));
        await rig.Runner(clock, new ScheduleOptions { CatchUpWindow = TimeSpan.FromHours(3) }).RunDueAsync(ct);

        var expected = new Dictionary<string, (string, string?, int)[]>
        {
            ["none"] = [("skipped", "missed", 3), ("skipped", "missed", 1), ("skipped", "missed", 1), ("skipped", "missed", 1)],
            ["last"] = [("skipped", "missed", 3), ("skipped", "missed", 1), ("skipped", "missed", 1), ("started", null, 1)],
            ["all"] = [("skipped", "missed", 3), ("started", null, 1), ("started", null, 1), ("started", null, 1)],
        };
        foreach (var (policy, ticks) in expected)
        {
            var recorded = (await rig.TicksAsync(ids[policy], ct)).Reverse().ToArray();
            Assert.Equal(ticks, recorded.Select(t => ((string)t["outcome"]!, (string?)t["reason"], (int)t["tick_count"]!)));
            Assert.Equal([due, due.AddHours(3), due.AddHours(4), due.AddHours(5)],
                recorded.Select(t => DateTimeOffset.Parse((string)t["tick_at"]!, CultureInfo.InvariantCulture)));
            var jobs = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?schedule_id={ids[policy]}", ct);
            Assert.Equal(ticks.Count(t => t.Item1 == "started"), jobs!["jobs"]!.AsArray().Count);
            var schedule = await rig.Client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{ids[policy]}", ct);
            Assert.Equal(due.AddHours(6), DateTimeOffset.Parse((string)schedule!["next_run_at"]!, CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task AScheduledJobOfAKeyedWorkflowTakesItsConcurrencyKeyAndAnInputGivingNoKeyIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(AScheduledJobOfAKeyedWorkflowTakesItsConcurrencyKeyAndAnInputGivingNoKeyIsRefused), ct,
            workflowsRoot: PipelineTestWorkflows.Root);
        var body = ValidBody();
        body["workflow_name"] = "keyed_llm_step";
        body["input_data"] = new JsonObject { ["question"] = "no user" };
        using (var refused = await rig.Client.PostAsJsonAsync("/api/v1/schedules", body, ct))
        {
            Assert.Equal(["input_data"], await ProblemFieldsAsync(refused, ct));
        }

        var schedule = await rig.CreateAsync(new { workflow_name = "keyed_llm_step", cron = "0 * * * *", input_data = new { user = "u1", question = "q" } }, ct);
        var due = DateTimeOffset.Parse((string)schedule["next_run_at"]!, CultureInfo.InvariantCulture);
        await rig.Runner(new ManualClock(due + TimeSpan.FromMinutes(1)), new ScheduleOptions()).RunDueAsync(ct);

        var tick = Assert.Single(await rig.TicksAsync((string)schedule["schedule_id"]!, ct));
        Assert.Equal("started", (string?)tick["outcome"]);
        await using var command = rig.Services.GetRequiredService<NpgsqlDataSource>()
            .CreateCommand("SELECT concurrency_key || ' ' || concurrency_limit FROM llm_workflow_jobs WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse((string)tick["job_id"]!) });
        // The same key a submitted job with this input gets: its limit holds for scheduled and submitted jobs alike.
        Assert.Equal("tests/keyed_llm_step/u1 1", await command.ExecuteScalarAsync(ct) as string);
    }

    [Fact]
    public async Task AnEverySecondScheduleStartsOneJobPerTickOnAWorker()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(AnEverySecondScheduleStartsOneJobPerTickOnAWorker), ct);
        await rig.StartWorkersAsync(1, ct);
        var (id, started, all) = await rig.RunEverySecondAsync(minimumStarted: 3, ct);

        AssertOneJobPerTick(started, all, await rig.ScheduleJobsAsync(id, ct));
        var done = await JobPolling.WaitForTerminalAsync(rig.Client, $"/api/v1/jobs/{started[0]["job_id"]}", TimeSpan.FromSeconds(30), ct);
        Assert.Equal("completed", (string?)done["status"]);
    }

    [Fact]
    public async Task TwoWorkersTickersStartExactlyOneJobPerTick()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(TwoWorkersTickersStartExactlyOneJobPerTick), ct);
        await rig.StartWorkersAsync(2, ct);
        var (id, started, all) = await rig.RunEverySecondAsync(minimumStarted: 6, ct);

        AssertOneJobPerTick(started, all, await rig.ScheduleJobsAsync(id, ct));
    }

    [Fact]
    public async Task APausedScheduleWakesNoTickerAndItsResumeRecordsThePausedTicksAsOneSkippedRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(servers, nameof(APausedScheduleWakesNoTickerAndItsResumeRecordsThePausedTicksAsOneSkippedRow), ct);
        await rig.StartWorkersAsync(1, ct);
        var schedule = await rig.CreateAsync(new { cron = "* * * * * *", paused = true }, ct);
        var id = (string)schedule["schedule_id"]!;
        var due = DateTimeOffset.Parse((string)schedule["next_run_at"]!, CultureInfo.InvariantCulture);

        // Two ticks fall due during the pause; the worker's ticker decides none of them.
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow > due.AddSeconds(1.2)), TimeSpan.FromSeconds(10));
        Assert.Empty(await rig.TicksAsync(id, ct));

        using var resumed = await rig.Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { paused = false }, ct);
        var after = await ReadAsync(resumed, HttpStatusCode.OK, ct);
        var resumedAt = DateTimeOffset.UtcNow;
        var paused = Assert.Single(await rig.TicksAsync(id, ct), t => (string?)t["reason"] == "paused");
        Assert.Equal(("skipped", due), ((string?)paused["outcome"], DateTimeOffset.Parse((string)paused["tick_at"]!, CultureInfo.InvariantCulture)));
        Assert.InRange((int)paused["tick_count"]!, 2, 60);
        Assert.True(DateTimeOffset.Parse((string)after["next_run_at"]!, CultureInfo.InvariantCulture) > resumedAt.AddSeconds(-1), "a resumed schedule starts from now");
        Assert.DoesNotContain(await rig.TicksAsync(id, ct), t => (string?)t["outcome"] == "started" && DateTimeOffset.Parse((string)t["tick_at"]!, CultureInfo.InvariantCulture) < resumedAt.AddSeconds(-1));
    }

    /// <summary>Every second from the first decided tick to the last is one tick, each started one distinct job, and the schedule has no other job.</summary>
    private static void AssertOneJobPerTick(JsonObject[] started, JsonObject[] all, string[] jobs)
    {
        var times = all.Select(t => DateTimeOffset.Parse((string)t["tick_at"]!, CultureInfo.InvariantCulture)).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, times.Length).Select(i => times[0].AddSeconds(i)), times);
        var startedJobs = started.Select(t => (string)t["job_id"]!).ToArray();
        Assert.Equal(startedJobs.Length, startedJobs.Distinct().Count());
        Assert.Equal(startedJobs.Order(), jobs.Order());
    }

    private static JsonObject ValidBody() => new()
    {
        ["name"] = "every hour",
        ["workflow_name"] = "hello_transform",
        ["cron"] = "0 * * * *",
        ["input_data"] = new JsonObject { ["name"] = "tick" },
    };

    private static JsonObject Renamed(JsonObject body, string name)
    {
        body["name"] = name;
        return body;
    }

    private static async Task<JsonObject> CreateWithKeyAsync(HttpClient client, string key, HttpStatusCode expected, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/schedules") { Content = JsonContent.Create(ValidBody()) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request, ct);
        return await ReadAsync(response, expected, ct);
    }

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static async Task<string[]> ProblemFieldsAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var problem = await ReadAsync(response, HttpStatusCode.BadRequest, ct);
        return [.. problem["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal)];
    }

    private sealed class Rig : IAsyncDisposable
    {
        private readonly Dictionary<string, string?> _settings;
        private readonly ApiFactory _api;
        private readonly List<WorkerHost> _workers = [];

        private Rig(Dictionary<string, string?> settings)
        {
            _settings = settings;
            _api = new ApiFactory(settings);
            Client = _api.CreateAuthenticatedClient();
        }

        public HttpClient Client { get; }

        public IServiceProvider Services => _api.Services;

        public static async Task<Rig> StartAsync(TestServers servers, string name, CancellationToken ct, string? workflowsRoot = null)
        {
            var environment = await TestEnvironment.CreateAsync(servers, name);
            return new Rig(environment.Settings(new Dictionary<string, string?>
            {
                ["Workflows:Root"] = workflowsRoot ?? RepositoryPaths.Workflows,
                // The shipped reconcile interval: the tickers' push, not a safety net, must start the ticks' jobs.
                ["Worker:ReconcileInterval"] = "00:00:03",
                ["Auth:ApiKeys:2:Name"] = "other",
                ["Auth:ApiKeys:2:Key"] = OtherTenantKey,
                ["Auth:ApiKeys:2:Tenant"] = "other-app",
            }));
        }

        public HttpClient CreateClient(string key)
        {
            var client = _api.CreateClient();
            client.DefaultRequestHeaders.Add("X-API-Key", key);
            return client;
        }

        public async Task StartWorkersAsync(int count, CancellationToken ct)
        {
            for (var i = 0; i < count; i++)
            {
                _workers.Add(await WorkerHost.StartAsync(_settings, ct));
            }
        }

        /// <summary>The tick runner on the API's database and Redis, with <paramref name="clock"/> as its clock.</summary>
        public ScheduleTickRunner Runner(TimeProvider clock, ScheduleOptions options)
        {
            var services = _api.Services;
            return new ScheduleTickRunner(services.GetRequiredService<NpgsqlDataSource>(), services.GetRequiredService<JobLifecycleStore>(),
                services.GetRequiredService<JobQueue>(), services.GetRequiredService<JobCancellation>(),
                services.GetRequiredService<LlmWorkflow.Storage.Versions.WorkflowVersions>(), Options.Create(options), clock,
                NullLogger<ScheduleTickRunner>.Instance);
        }

        public async Task<JsonObject> CreateAsync(object changes, CancellationToken ct)
        {
            var body = ValidBody();
            foreach (var (key, value) in JsonSerializerNode(changes))
            {
                body[key] = value?.DeepClone();
            }

            using var response = await Client.PostAsJsonAsync("/api/v1/schedules", body, ct);
            return await ReadAsync(response, HttpStatusCode.Created, ct);
        }

        public async Task<JsonObject[]> TicksAsync(string scheduleId, CancellationToken ct) =>
            [.. (await Client.GetFromJsonAsync<JsonObject>($"/api/v1/schedules/{scheduleId}/ticks?limit=500", ct))!["ticks"]!.AsArray().Select(t => t!.AsObject())];

        /// <summary>
        /// Runs an every-second schedule until <paramref name="minimumStarted"/> ticks started, then pauses it. The pause's
        /// UPDATE waits for the row lock of a tick being decided, so when it returns every tick is final and no ticker
        /// takes the paused schedule again. Returns the started ticks and all.
        /// </summary>
        public async Task<(string Id, JsonObject[] Started, JsonObject[] All)> RunEverySecondAsync(int minimumStarted, CancellationToken ct)
        {
            var schedule = await CreateAsync(new { cron = "* * * * * *", overlap = "allow" }, ct);
            var id = (string)schedule["schedule_id"]!;
            await WorkerCrashTests.WaitUntilAsync(async () => (await TicksAsync(id, ct)).Count(t => (string?)t["outcome"] == "started") >= minimumStarted,
                TimeSpan.FromSeconds(minimumStarted + 20));
            using var paused = await Client.PatchAsJsonAsync($"/api/v1/schedules/{id}", new { paused = true }, ct);
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
            var all = await TicksAsync(id, ct);
            Assert.DoesNotContain(all, t => (string?)t["reason"] is "overlap" or "missed");
            return (id, [.. all.Where(t => (string?)t["outcome"] == "started")], all);
        }

        /// <summary>The ids of every job the schedule started, from the job list's schedule_id filter.</summary>
        public async Task<string[]> ScheduleJobsAsync(string scheduleId, CancellationToken ct)
        {
            var jobs = await Client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?schedule_id={scheduleId}&limit=200", ct);
            return [.. jobs!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!)];
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var worker in _workers)
            {
                await worker.DisposeAsync();
            }

            Client.Dispose();
            await _api.DisposeAsync();
        }

        private static JsonObject JsonSerializerNode(object changes) => System.Text.Json.JsonSerializer.SerializeToNode(changes)!.AsObject();
    }
}
