using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Pipeline.Jobs;
using LlmWorkflow.Pipeline.Redis;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// The read turn on the real Redis: one worker of a machine holds it at a time, renews it, gives it up or lets it
/// lapse; a worker reads only while it holds it, so a job waits for a turn held elsewhere and is run once it lapses
/// (a holder that died); a worker that stops, or whose slots all stay busy, gives its turn away at once.
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

    private ReadTurn Turn(string workerId, bool oneReaderPerMachine = true) => new(
        _redis,
        Options.Create(new QueueOptions { KeyPrefix = _prefix }),
        // A 1 s pace: the turn lives 2.5 s, far longer than the calls between two assertions take on a loaded machine.
        Options.Create(new WorkerOptions { Id = workerId, BatchLinger = TimeSpan.FromSeconds(1), OneReaderPerMachine = oneReaderPerMachine }));

    private static string TurnKey(string prefix) => $"{prefix}:read-turn:workers:{Environment.MachineName}";

}
