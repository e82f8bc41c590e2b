using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Pipeline;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// The budgets' Lua scripts on a real redis-server: all-or-nothing reservations over provider and model, the wait
/// until the oldest calls leave the window, reconciling with real usage, concurrency slots and the release notice,
/// re-syncing from a provider's remaining tokens, following a limit the provider says is lower than the configured one,
/// a 429's block, and a paused provider.
/// </summary>
[IntegrationTest]
public sealed class AdmissionStoreTests(TestServers servers) : IAsyncLifetime
{
    private static readonly AdmissionSettings Settings = new() { Window = TimeSpan.FromSeconds(10), LeaseTimeout = TimeSpan.FromSeconds(30) };
    private ConnectionMultiplexer _redis = null!;
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";
    private RedisAdmissionStore _store = null!;

    public async ValueTask InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync((await servers.RedisAsync()).ConnectionString);
        _store = new RedisAdmissionStore(_redis, _prefix);
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task AReservationThatDoesNotFitWaitsUntilTheOldestCallsLeaveTheWindowAndReservesNothing()
    {
        var scopes = Scopes(("openai", new LlmLimit { TokensPerMinute = 1_000 }));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 300, 300), Settings)).IsReserved);
        Assert.True((await _store.ReserveAsync("b", scopes, new(1, 200, 100), Settings)).IsReserved);

        var refused = await _store.ReserveAsync("c", scopes, new(1, 150, 100), Settings);
        Assert.False(refused.IsReserved);
        Assert.Equal(("openai", "tokens"), (refused.Scope, refused.Reason));
        // The first call leaving the window (in about 10 s) frees enough.
        Assert.InRange(refused.Wait!.Value, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(10.1));
        Assert.Equal(900, (await _store.UsageAsync("openai", Settings)) is var used ? used.InputTokens + used.OutputTokens : 0);
    }

    [Fact]
    public async Task ReconcilingWithTheRealUsageGivesBackWhatTheEstimateOverstated()
    {
        var scopes = Scopes(("openai", new LlmLimit { OutputTokensPerMinute = 500 }));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 50, 400), Settings)).IsReserved);
        Assert.False((await _store.ReserveAsync("b", scopes, new(1, 50, 400), Settings)).IsReserved);

        await _store.ReconcileAsync("a", ["openai"], new(1, 50, 80), Settings);

        Assert.True((await _store.ReserveAsync("b", scopes, new(1, 50, 400), Settings)).IsReserved);
        Assert.Equal(480, (await _store.UsageAsync("openai", Settings)).OutputTokens);
    }

    [Fact]
    public async Task AReservationInAProviderAndOneOfItsModelsIsAllOrNothing()
    {
        var scopes = Scopes(("openai", new LlmLimit { RequestsPerMinute = 10 }), ("openai/gpt-4o", new LlmLimit { RequestsPerMinute = 1 }));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 1, 1), Settings)).IsReserved);

        var refused = await _store.ReserveAsync("b", scopes, new(1, 1, 1), Settings);

        Assert.Equal(("openai/gpt-4o", "requests"), (refused.Scope, refused.Reason));
        Assert.Equal(1, (await _store.UsageAsync("openai", Settings)).Requests);
    }

    [Fact]
    public async Task AFullConcurrencyLimitWaitsWithoutAnEndAndItsReleaseIsAnnounced()
    {
        var scopes = Scopes(("anthropic", new LlmLimit { ConcurrentCalls = 1 }));
        var notices = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _redis.GetSubscriber().SubscribeAsync(_store.ReleasedChannel, (_, message) => notices.TrySetResult(message!));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 10, 10), Settings)).IsReserved);

        var refused = await _store.ReserveAsync("b", scopes, new(1, 10, 10), Settings);
        Assert.Equal((null, "concurrency"), (refused.Wait, refused.Reason));

        Assert.True(await _store.ReleaseAsync("a", ["anthropic"]));
        Assert.Equal("1 anthropic", await notices.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        Assert.True((await _store.ReserveAsync("b", scopes, new(1, 10, 10), Settings)).IsReserved);
        Assert.False(await _store.ReleaseAsync("b", ["anthropic"]));
    }

    [Fact]
    public async Task TheProvidersRemainingTokensAndA429ShrinkTheBudget()
    {
        var limit = new LlmLimit { TokensPerMinute = 1_000 };
        var scopes = Scopes(("openai", limit));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 100, 0), Settings)).IsReserved);

        // The provider counts 700 used (another client of the same key, or a Redis that lost its data).
        await _store.ShrinkAsync(scopes, new RateLimitSnapshot(null, 300, null, null, null), null, Settings);
        var used = await _store.UsageAsync("openai", Settings);
        Assert.Equal(700, used.InputTokens + used.OutputTokens);
        Assert.False((await _store.ReserveAsync("b", scopes, new(1, 400, 0), Settings)).IsReserved);

        await _store.ShrinkAsync(scopes, new RateLimitSnapshot(null, null, null, null, null), TimeSpan.FromSeconds(3), Settings);
        var blocked = await _store.ReserveAsync("c", scopes, new(1, 1, 0), Settings);
        Assert.Equal("rate_limited", blocked.Reason);
        Assert.InRange(blocked.Wait!.Value, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task ALimitTheProviderSaysIsBelowTheConfiguredOneIsFollowedPastTheWindowUntilAWindowOfAnswersSayOtherwise()
    {
        var settings = new AdmissionSettings { Window = TimeSpan.FromSeconds(1), LeaseTimeout = TimeSpan.FromSeconds(30) };
        var scopes = Scopes(("openai", new LlmLimit { TokensPerMinute = 1_000 }));
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 100, 0), settings)).IsReserved);

        // The key was moved to a lower tier: 500 a window, of which the provider counts the 100 of "a" (400 left).
        await _store.ShrinkAsync(scopes, new RateLimitSnapshot(null, 400, null, null, null) { Limits = new(null, 500, null, null) }, null, settings);
        // Measured against 500, not the configured 1,000: nothing is made up in the window (it would expire with it).
        var used = await _store.UsageAsync("openai", settings);
        Assert.Equal(100, used.InputTokens + used.OutputTokens);
        // An answer to a call sent before the lowering, re-synced after it, still says 1,000: it does not raise it.
        await _store.ShrinkAsync(scopes, new RateLimitSnapshot(null, 900, null, null, null) { Limits = new(null, 1_000, null, null) }, null, settings);

        // A window later, with no answer since, the budget is still the provider's 500.
        await WorkerCrashTests.WaitUntilAsync(async () => (await _store.UsageAsync("openai", settings)).Requests == 0, TimeSpan.FromSeconds(10));
        Assert.True((await _store.ReserveAsync("b", scopes, new(1, 400, 0), settings)).IsReserved);
        var refused = await _store.ReserveAsync("c", scopes, new(1, 200, 0), settings);
        Assert.Equal(("openai", "tokens"), (refused.Scope, refused.Reason));

        // The provider raised it again: an answer saying 1,000 a window after the last one that said 500 ends it.
        await WorkerCrashTests.WaitUntilAsync(async () =>
        {
            await _store.ShrinkAsync(scopes, new RateLimitSnapshot(null, 600, null, null, null) { Limits = new(null, 1_000, null, null) }, null, settings);
            return (await _store.ReserveAsync("c", scopes, new(1, 200, 0), settings)).IsReserved;
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task APausedProviderAdmitsNothingUntilResumedAndAZeroBudgetAdmitsNothing()
    {
        var scopes = Scopes(("openrouter", new LlmLimit { RequestsPerMinute = 100 }));
        await _store.SetPausedAsync("openrouter", paused: true);
        Assert.True(await _store.IsPausedAsync("openrouter"));
        Assert.Equal((null, "paused"), (await _store.ReserveAsync("a", scopes, new(1, 1, 1), Settings)) is var v ? (v.Wait, v.Reason) : default);

        await _store.SetPausedAsync("openrouter", paused: false);
        Assert.True((await _store.ReserveAsync("a", scopes, new(1, 1, 1), Settings)).IsReserved);
        Assert.Equal("zero_budget", (await _store.ReserveAsync("z", Scopes(("mock", new LlmLimit { TokensPerMinute = 0 })), new(1, 1, 1), Settings)).Reason);
    }

    [Fact]
    public async Task CallsAWorkerOfThePreviousVersionRecordedWithoutRunningTotalsCountFromTheFirstReservation()
    {
        // What a worker before the running totals left in Redis mid-deploy: the calls and their amounts alone.
        var database = _redis.GetDatabase();
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 3; i++)
        {
            await database.SortedSetAddAsync($"{_prefix}admission:openai:log", $"old-{i}", at);
            await database.HashSetAsync($"{_prefix}admission:openai:amt", $"old-{i}", "1:200:100");
        }

        var scopes = Scopes(("openai", new LlmLimit { TokensPerMinute = 1_000 }));
        Assert.Equal("tokens", (await _store.ReserveAsync("a", scopes, new(1, 150, 100), Settings)).Reason);
        Assert.True((await _store.ReserveAsync("b", scopes, new(1, 50, 50), Settings)).IsReserved);
        await _store.ReconcileAsync("b", ["openai"], new(1, 50, 0), Settings);
        Assert.Equal((4L, 650L, 300L), (await _store.UsageAsync("openai", Settings)) is var used ? (used.Requests, used.InputTokens, used.OutputTokens) : default);
    }

    private static List<(string Scope, LlmLimit Limit)> Scopes(params (string Scope, LlmLimit Limit)[] scopes) => [.. scopes];
}

/// <summary>
/// A paused provider holds back the calls of a tenant (or a tenant's user) whose own limits are the only ones that
/// apply: the store's reservation checks the pause of its first scope's provider, which a tenant's scope does not name.
/// </summary>
[IntegrationTest]
public sealed class TenantScopePauseTests(TestServers servers)
{
    [Fact]
    public async Task APausedProviderHoldsBackACallWhoseOnlyLimitsAreItsTenantsAndItsUsers()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await servers.RedisAsync()).ConnectionString);
        var store = new RedisAdmissionStore(redis, $"t-{Guid.NewGuid():N}:");
        var options = new AdmissionOptions
        {
            TenantLimits = { ["acme"] = new LlmLimit { RequestsPerMinute = 100 } },
            PerUserLimits = { ["acme"] = new LlmLimit { RequestsPerMinute = 10 } },
        };
        var admission = new LlmAdmission(new StaticOptionsMonitor<AdmissionOptions>(options), store, new NoOutputHistory(),
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<LlmAdmission>.Instance);
        var model = LlmWorkflow.Engine.Llm.ModelId.Parse("openai/gpt-4o-mini");
        var request = new LlmWorkflow.Engine.Llm.LlmCallRequest([model.ToString()], [new(Microsoft.Extensions.AI.ChatRole.User, "hi")], TenantId: "acme", UserId: "u1");

        await store.SetPausedAsync("openai", paused: true);
        var deferred = await Assert.ThrowsAsync<AdmissionDeferredException>(async () => await admission.AdmitAsync(model, request, CancellationToken.None));
        // Parked on the provider's scope, which the provider's resume wakes.
        Assert.Equal(("openai", "paused"), (deferred.Scope, deferred.Reason));

        await store.SetPausedAsync("openai", paused: false);
        var lease = await admission.AdmitAsync(model, request, CancellationToken.None);
        Assert.Equal(1, (await store.UsageAsync(AdmissionOptions.UserScope("acme", "u1"), options.Admission)).Requests);
        await lease.DisposeAsync();
    }

    internal sealed class StaticOptionsMonitor<T>(T value) : Microsoft.Extensions.Options.IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }

    internal sealed class NoOutputHistory : IOutputTokenHistory
    {
        public ValueTask<int?> P95Async(string workflowName, string stepId, string model, CancellationToken cancellationToken) => ValueTask.FromResult<int?>(null);
    }
}
