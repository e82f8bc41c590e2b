using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Tests.Infrastructure;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Weighted fair shares of a provider's token window on a real redis-server (docs/ADMISSION.md, "Fair shares between
/// tenants"): two tenants of weights 3 and 1 reserving without pause split the window 3:1; a tenant alone takes the
/// whole limit; a small tenant's call behind a big tenant's backlog gets the first capacity that frees.
/// </summary>
[IntegrationTest]
public sealed partial class FairShareStoreTests(TestServers servers) : IAsyncLifetime
{
    private const int CallTokens = 100;
    // The shares between waiting tenants alone; the burst reserve is measured on its own below.
    private static readonly AdmissionSettings Settings = new() { Window = TimeSpan.FromSeconds(2), LeaseTimeout = TimeSpan.FromSeconds(30), BurstReserve = 0 };
    private static readonly FairShare Big = new("big", 3);
    private static readonly FairShare Small = new("small", 1);
    private ConnectionMultiplexer _redis = null!;
    private RedisAdmissionStore _store = null!;

    public async ValueTask InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync((await servers.RedisAsync()).ConnectionString);
        _store = new RedisAdmissionStore(_redis, $"t-{Guid.NewGuid():N}:");
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task TwoTenantsReservingWithoutPauseSplitTheWindowByTheirWeights()
    {
        var scopes = Scopes(4_000);
        var started = DateTimeOffset.UtcNow;
        var until = started + (Settings.Window * 4);
        var big = ReserveUntilAsync(Big, scopes, until);
        var small = ReserveUntilAsync(Small, scopes, until);
        var (bigAdmitted, smallAdmitted) = (await big, await small);
        var usage = await _store.UsageAsync("openai", Settings);

        // The first window is first come, first served (nobody waited yet); from the second on both wait all the time.
        // Each window's calls are admitted in a burst as the last window's leave (at about 2, 4 and 6 s): the two
        // windows measured start half a window after one burst, so that no burst straddles their edges.
        var (from, to) = (started + (Settings.Window * 1.5), started + (Settings.Window * 3.5));
        var bigTokens = bigAdmitted.Count(at => at >= from && at < to) * CallTokens;
        var smallTokens = smallAdmitted.Count(at => at >= from && at < to) * CallTokens;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"weights 3:1, 4,000 tokens per 2 s, calls of 100: over two windows from 3 s big {bigTokens}, small {smallTokens} tokens " +
            $"(ratio {(double)bigTokens / smallTokens:F2}); first window big {bigAdmitted.Count(at => at < started + Settings.Window) * CallTokens}, " +
            $"small {smallAdmitted.Count(at => at < started + Settings.Window) * CallTokens}");
        Assert.InRange((double)bigTokens / smallTokens, 2.7, 3.3);
        // Together they used the limit (two windows of 4,000, less a call each at most): the shares waste nothing.
        Assert.InRange(bigTokens + smallTokens, 8_000 - (4 * CallTokens), 8_000 + (2 * CallTokens));
        Assert.Equal(["big", "small"], usage.Tenants.Select(t => t.TenantId));
        Assert.All(usage.Tenants, t => Assert.True(t.Waiting));
    }

    [Fact]
    public async Task ATenantAloneTakesTheWholeLimit()
    {
        var scopes = Scopes(4_000);
        var admitted = 0;
        AdmissionVerdict verdict;
        while ((verdict = await _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, CallTokens, 0), Settings, fairShare: Small)).IsReserved)
        {
            admitted++;
        }

        Assert.Equal(40, admitted);
        Assert.Equal("tokens", verdict.Reason);
    }

    [Fact]
    public async Task ASmallTenantsCallBehindABigTenantsBacklogGetsTheFirstCapacityThatFrees()
    {
        var scopes = Scopes(1_000);
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await _store.ReserveAsync($"big-{i}", scopes, new(1, CallTokens, 0), Settings, fairShare: Big)).IsReserved);
            if (i == 0)
            {
                // The backlog's first call is older than the rest: when it leaves the window the big tenant still holds
                // 900, over its share of 750, for half a second (a burst would leave all at once, and a tenant under its
                // share rightly gets capacity too).
                await Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
            }
        }

        // The big tenant's backlog waits for the window, then the small tenant's first call arrives.
        Assert.Equal("tokens", (await ReserveAsync(Big, scopes)).Reason);
        var told = await ReserveAsync(Small, scopes);
        Assert.Equal("tokens", told.Reason);
        var toldAt = DateTimeOffset.UtcNow;

        // The backlog asks first each time; it is held to its share (750 of 1,000, and it holds 900) from the moment
        // capacity frees, and the small tenant's call takes that capacity.
        var bigReasons = new List<string?>();
        var deadline = toldAt + told.Wait!.Value + Settings.Window;
        while (true)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the small tenant's call was not admitted within a window of its wait");
            bigReasons.Add((await ReserveAsync(Big, scopes)).Reason);
            if ((await ReserveAsync(Small, scopes)).IsReserved)
            {
                break;
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        var late = DateTimeOffset.UtcNow - (toldAt + told.Wait.Value);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"small tenant told to wait {told.Wait.Value.TotalMilliseconds:F0} ms, admitted {late.TotalMilliseconds:F0} ms after that; " +
            $"the backlog's {bigReasons.Count} tries meanwhile: {string.Join(", ", bigReasons.GroupBy(r => r).Select(g => $"{g.Count()} {g.Key}"))}");
        Assert.True(late < TimeSpan.FromMilliseconds(400), $"the small tenant's call was admitted {late} after the capacity freed");
        // First come, first served would have given the freed capacity to the backlog, which asked first every time.
        Assert.DoesNotContain(null, bigReasons);
    }

    [Fact]
    public async Task ACallAboveItsTenantsShareWaitsOnlyUntilTheTenantsOwnCallsHaveLeftTheWindow()
    {
        var ct = TestContext.Current.CancellationToken;
        var scopes = Scopes(1_000);
        Assert.True((await _store.ReserveAsync("small-first", scopes, new(1, CallTokens, 0), Settings, fairShare: Small)).IsReserved);
        var firstAt = DateTimeOffset.UtcNow;
        // The big tenant waits on the scope (its call does not fit beside the small tenant's), so shares apply: the
        // small tenant's is 1/4 of 1,000 = 250, and a call of 300 is above it whatever it holds.
        Assert.Equal("tokens", (await _store.ReserveAsync("big-large", scopes, new(1, 950, 0), Settings, fairShare: Big)).Reason);

        var asked = DateTimeOffset.UtcNow;
        var held = await _store.ReserveAsync("small-large", scopes, new(1, 300, 0), Settings, fairShare: Small);

        // Told to wait until its own call leaves the window (it then holds nothing, and a tenant holding nothing is
        // never held by its share), not until the big tenant stops waiting (its wait plus a grace: a window later).
        Assert.Equal("fair_share", held.Reason);
        // (Redis stamped its call before firstAt and answered this one after asked, on the same clock.)
        Assert.InRange(held.Wait!.Value, TimeSpan.FromMilliseconds(1), firstAt + Settings.Window - asked + TimeSpan.FromMilliseconds(2));
        var toldAt = DateTimeOffset.UtcNow;

        // Asked again and again: admitted soon after that time.
        AdmissionVerdict verdict;
        var deadline = toldAt + held.Wait.Value + TimeSpan.FromMilliseconds(500);
        while (!(verdict = await _store.ReserveAsync("small-large", scopes, new(1, 300, 0), Settings, fairShare: Small)).IsReserved)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"the call above its share was still held ({verdict.Reason}) after its own call left the window");
            await Task.Delay(20, ct);
        }
    }

    /// <summary>Reserves 100-token calls for <paramref name="tenant"/> until <paramref name="until"/>; when each was admitted.</summary>
    private async Task<List<DateTimeOffset>> ReserveUntilAsync(FairShare tenant, List<(string Scope, LlmLimit Limit)> scopes, DateTimeOffset until)
    {
        var admitted = new List<DateTimeOffset>();
        while (DateTimeOffset.UtcNow < until)
        {
            var verdict = await ReserveAsync(tenant, scopes);
            if (verdict.IsReserved)
            {
                admitted.Add(DateTimeOffset.UtcNow);
                continue;
            }

            // A client with a deep backlog asks again soon (never later than told).
            await Task.Delay(verdict.Wait is { } wait && wait < TimeSpan.FromMilliseconds(20) ? wait : TimeSpan.FromMilliseconds(20), TestContext.Current.CancellationToken);
        }

        return admitted;
    }

    [Fact]
    public async Task ATenantAboveItsShareLeavesTheBurstReserveToATenantThatUsedTheScopeRecently()
    {
        var settings = new AdmissionSettings { Window = TimeSpan.FromSeconds(10), LeaseTimeout = TimeSpan.FromSeconds(30), BurstReserve = 0.2 };
        var scopes = Scopes(1_000);
        Task<AdmissionVerdict> Reserve(FairShare tenant) => _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, CallTokens, 0), settings, fairShare: tenant);

        // The small tenant used the scope; then the big one bursts: it leaves the others 20 % of the limit (used or free).
        Assert.True((await Reserve(Small)).IsReserved);
        var burst = 0;
        AdmissionVerdict held;
        while ((held = await Reserve(Big)).IsReserved)
        {
            burst++;
        }

        Assert.Equal((8, "fair_share"), (burst, held.Reason));
        // The small tenant (weight 1 of 4: 250 tokens), under its share, still gets the reserve at once; then the window
        // is full for everyone.
        Assert.True((await Reserve(Small)).IsReserved);
        Assert.False((await Reserve(Small)).IsReserved);
        Assert.Equal(1_000, (await _store.UsageAsync("openai", settings)).InputTokens);

        // A tenant alone is never held back by the reserve: it fills the whole limit.
        var alone = new FairShare("alone", 1);
        var lone = new List<(string Scope, LlmLimit Limit)> { ("openai/alone", new LlmLimit { TokensPerMinute = 1_000 }) };
        var admitted = 0;
        while ((await _store.ReserveAsync(Guid.NewGuid().ToString("N"), lone, new(1, CallTokens, 0), settings, fairShare: alone)).IsReserved)
        {
            admitted++;
        }

        Assert.Equal(10, admitted);
    }

    private Task<AdmissionVerdict> ReserveAsync(FairShare tenant, List<(string Scope, LlmLimit Limit)> scopes) =>
        _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, CallTokens, 0), Settings, fairShare: tenant);

    private static List<(string Scope, LlmLimit Limit)> Scopes(int tokens) => [("openai", new LlmLimit { TokensPerMinute = tokens })];
}
