using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The read turn on the real Redis: one worker of a machine holds it at a time, renews it, gives it up or lets it
/// lapse; a waiting worker wakes at the hand-off, or once the turn could have lapsed. A worker reads only while it holds
/// it, so a job waits for a turn held elsewhere and is run once it lapses (a holder that died); a worker that stops, or
/// whose slots all stay busy with a job that calls out, gives its turn away at once, and one whose slots all wait on
/// its database writes keeps it.
/// </summary>
public sealed class ReadTurnTests(TestServers servers) : IAsyncLifetime
{
    private readonly string _prefix = $"t-{Guid.NewGuid():N}";
    private RedisClient _redis = null!;

    public ValueTask InitializeAsync()
    {
        _redis = new RedisClient(RedisConnectionOptions.Parse(servers.Redis.ConnectionString));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task OneWorkerHoldsTheTurnUntilItGivesItUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = Turn("worker-a");
        var second = Turn("worker-b");

        Assert.True(await first.TryTakeAsync(ct));
        Assert.False(await second.TryTakeAsync(ct));
        Assert.True(await first.TryTakeAsync(ct)); // renewed by its holder
        Assert.False(await second.TryTakeAsync(ct));

        await second.GiveUpAsync(ct); // not the holder's: nothing changes
        Assert.False(await second.TryTakeAsync(ct));

        await first.GiveUpAsync(ct);
        Assert.True(await second.TryTakeAsync(ct));
        Assert.False(await first.TryTakeAsync(ct));
    }

    [Fact]
    public async Task ATurnNotRenewedLapses()
    {
        var ct = TestContext.Current.CancellationToken;
        var holder = Turn("worker-a");
        var other = Turn("worker-b");
        Assert.Equal(TimeSpan.FromMilliseconds(2500), holder.Lifetime); // 500 ms and twice the 1 s pace

        Assert.True(await holder.TryTakeAsync(ct));
        Assert.False(await other.TryTakeAsync(ct));
        await Task.Delay(holder.Lifetime + TimeSpan.FromMilliseconds(200), ct);
        Assert.True(await other.TryTakeAsync(ct));
    }

    [Fact]
    public async Task AWaitingWorkerWakesAsSoonAsTheHolderHandsTheTurnOver()
    {
        var ct = TestContext.Current.CancellationToken;
        // A 10 s pace: a turn lives 20.5 s, so only the hand-off can end the wait within this test.
        var holder = Turn("worker-a", pace: TimeSpan.FromSeconds(10));
        var waiter = Turn("worker-b", pace: TimeSpan.FromSeconds(10));
        Assert.True(await holder.TryTakeAsync(ct));
        Assert.False(await waiter.TryTakeAsync(ct));

        var waiting = waiter.WaitForHandOffAsync(ct);
        await Task.Delay(300, ct);
        Assert.False(waiting.IsCompleted); // blocked in Redis, not asking

        await holder.GiveUpAsync(ct);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.True(await waiter.TryTakeAsync(ct));
        Assert.False(await holder.TryTakeAsync(ct));
        // The one token was taken by the waiter.
        Assert.Equal(0, (await _redis.ExecuteAsync("LLEN", [HandOffKey(_prefix)], ct)).AsInt64());
    }

    [Fact]
    public async Task AWaitWithoutAHandOffEndsOnceTheHoldersTurnHasLapsed()
    {
        var ct = TestContext.Current.CancellationToken;
        var holder = Turn("worker-a"); // a turn lives 2.5 s
        var waiter = Turn("worker-b");
        Assert.True(await holder.TryTakeAsync(ct));
        Assert.False(await waiter.TryTakeAsync(ct));

        // The holder dies: it never renews nor gives up. The wait ends after a turn's lifetime, when the turn has lapsed.
        var started = Stopwatch.GetTimestamp();
        await waiter.WaitForHandOffAsync(ct);
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(2), "the wait ended before the turn could lapse");
        Assert.True(await waiter.TryTakeAsync(ct));
    }

    [Fact]
    public async Task AHandOffNobodyWaitsForLeavesOneTokenThatLapses()
    {
        var ct = TestContext.Current.CancellationToken;
        var holder = Turn("worker-a", pace: TimeSpan.FromSeconds(10)); // a token lives 20.5 s
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await holder.TryTakeAsync(ct));
            await holder.GiveUpAsync(ct);
        }

        Assert.Equal(1, (await _redis.ExecuteAsync("LLEN", [HandOffKey(_prefix)], ct)).AsInt64());
        var ttl = (await _redis.ExecuteAsync("PTTL", [HandOffKey(_prefix)], ct)).AsInt64();
        Assert.InRange(ttl, 1, (long)holder.Lifetime.TotalMilliseconds);
    }

    [Fact]
    public async Task WithTheSettingOffEveryWorkerReads()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = Turn("worker-a", oneReaderPerMachine: false);
        var second = Turn("worker-b", oneReaderPerMachine: false);

        Assert.True(await first.TryTakeAsync(ct));
        Assert.True(await second.TryTakeAsync(ct));
        Assert.Empty(await _redis.ScanKeysAsync($"{_prefix}:*", ct: ct));
    }

    [Fact]
    public async Task AWorkerRunsNothingWhileAnotherHoldsTheTurnAndReadsOnceItLapses()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AWorkerRunsNothingWhileAnotherHoldsTheTurnAndReadsOnceItLapses));
        var settings = environment.Settings();
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();

        // A worker of this machine that took the turn and died: it never renews it.
        var key = TurnKey(environment.KeyPrefix);
        Assert.True(await _redis.StringSetAsync(key, "dead-worker", TimeSpan.FromMinutes(1), ct: ct));
        await using var worker = await WorkerHost.StartAsync(settings, ct);
        var job = await ApiSubmissions.SubmitAsync(client, "hello_transform", new { name = "turn" }, ct);

        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var waiting = await client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{job}", ct);
        Assert.Equal("queued", (string?)waiting!["status"]);

        // Its turn lapses (its lifetime runs out now rather than in a minute).
        Assert.True(await _redis.KeyExpireAsync(key, TimeSpan.FromMilliseconds(300), ct));
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.NotEqual("dead-worker", await _redis.StringGetAsync(key, ct));
    }

    [Fact]
    public async Task AWorkerThatStopsGivesItsTurnAway()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AWorkerThatStopsGivesItsTurnAway));
        // A long pace, so the turn lives 20.5 s unless given up: only the stop can free it within this test.
        var settings = environment.Settings(new Dictionary<string, string?> { ["Worker:Id"] = "stopping-worker", ["Worker:BatchLinger"] = "00:00:10" });
        var key = TurnKey(environment.KeyPrefix);

        var worker = await WorkerHost.StartAsync(settings, ct);
        await using (worker)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (await _redis.StringGetAsync(key, ct) != "stopping-worker")
            {
                Assert.True(DateTime.UtcNow < deadline, "the worker never took the read turn");
                await Task.Delay(50, ct);
            }
        }

        // Stopped: the turn is free at once, not after its lifetime.
        Assert.Null(await _redis.StringGetAsync(key, ct));
    }

    [Fact]
    public async Task AWorkerWhoseSlotsAllStayBusyGivesItsTurnAway()
    {
        var ct = TestContext.Current.CancellationToken;
        var answers = new TaskCompletionSource();
        // One slot and a 10 s pace: the turn lives 20.5 s unless renewed, and is given up 10 s after the slot stays busy.
        await using var pipeline = await LlmPipeline.StartAsync(servers, nameof(AWorkerWhoseSlotsAllStayBusyGivesItsTurnAway),
            llm => llm.AnswerGate = answers.Task, ct,
            new Dictionary<string, string?> { ["Worker:Id"] = "busy-worker", ["Worker:MaxConcurrentJobs"] = "1", ["Worker:BatchLinger"] = "00:00:10" });
        var key = TurnKey(pipeline.Api.Services.GetRequiredService<IOptions<QueueOptions>>().Value.KeyPrefix);

        var statusUrl = await pipeline.SubmitAsync("one_llm_step", new { question = "held" }, ct);
        await WorkerCrashTests.WaitUntilAsync(() => Task.FromResult(pipeline.Llm.CallCount == 1), TimeSpan.FromSeconds(30));
        Assert.Equal("busy-worker", await _redis.StringGetAsync(key, ct)); // it read the job, so it holds the turn

        // Given up well before it would lapse.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (await _redis.StringGetAsync(key, ct) is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the worker kept the read turn while its only slot was busy");
            await Task.Delay(50, ct);
        }

        answers.SetResult();
        var done = await JobPolling.WaitForTerminalAsync(pipeline.Client, statusUrl, TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)done["status"]);
    }

    [Fact]
    public async Task AWorkerWhoseSlotsAllWaitOnItsDatabaseKeepsItsTurn()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(AWorkerWhoseSlotsAllWaitOnItsDatabaseKeepsItsTurn));
        // One slot and a 5 s pace: a slot busy with a job that calls out gives the turn up after 5 s (the test above);
        // the turn lives 10.5 s from the holder's last read unless given up.
        var settings = environment.Settings(
            new Dictionary<string, string?> { ["Worker:Id"] = "computing-worker", ["Worker:MaxConcurrentJobs"] = "1", ["Worker:BatchLinger"] = "00:00:05" });
        var key = TurnKey(environment.KeyPrefix);
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        await using var worker = await WorkerHost.StartAsync(settings, ct);

        // The job only computes; its finish writes its step row, which this lock holds back, so its slot stays busy.
        await using var database = new NpgsqlConnection(environment.PostgresConnectionString);
        await database.OpenAsync(ct);
        await using var transaction = await database.BeginTransactionAsync(ct);
        await using (var lockSteps = new NpgsqlCommand("LOCK TABLE llm_job_steps IN SHARE MODE", database, transaction))
        {
            await lockSteps.ExecuteNonQueryAsync(ct);
        }

        var job = await ApiSubmissions.SubmitAsync(client, "hello_transform", new { name = "held" }, ct);
        await using var finishWaits = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE relation = 'llm_job_steps'::regclass AND NOT granted", database, transaction);
        await Eventually.TrueAsync(async () => (long)(await finishWaits.ExecuteScalarAsync(ct))! > 0,
            TimeSpan.FromSeconds(30), "the job's finish to wait on the lock");
        Assert.Equal("computing-worker", await _redis.StringGetAsync(key, ct)); // it read the job, so it holds the turn

        // Past the pace the worker still holds the turn: another reader on these cores would wait on the same database.
        await Task.Delay(TimeSpan.FromSeconds(7), ct);
        Assert.Equal("computing-worker", await _redis.StringGetAsync(key, ct));

        await transaction.RollbackAsync(ct);
        var done = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{job}", TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)done["status"]);
    }

    // By default a 1 s pace: the turn lives 2.5 s, far longer than the calls between two assertions take on a loaded machine.
    private ReadTurn Turn(string workerId, bool oneReaderPerMachine = true, TimeSpan? pace = null) => new(
        _redis,
        Options.Create(new QueueOptions { KeyPrefix = _prefix }),
        Options.Create(new WorkerOptions { Id = workerId, BatchLinger = pace ?? TimeSpan.FromSeconds(1), OneReaderPerMachine = oneReaderPerMachine }));

    private static string TurnKey(string prefix) => $"{prefix}:read-turn:workers:{Environment.MachineName}";

    private static string HandOffKey(string prefix) => $"{TurnKey(prefix)}:hand-off";

}
