using LlmWorkflow.Engine.Llm.Admission;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Weighted shares between the users of one tenant, on a real redis-server (docs/ADMISSION.md, "Fair shares between
/// tenants", the users' level): two users of weights 3 and 1 split their tenant's part 3:1; a tenant's two users split
/// its half of a window two tenants contend for; a user alone in its tenant is held by its tenant's share only.
/// </summary>
public sealed partial class FairShareStoreTests
{
    [Fact]
    public async Task TwoUsersOfATenantReservingWithoutPauseSplitTheWindowByTheirWeights()
    {
        var heavy = new FairShare("acme", 1, "heavy", 3);
        var light = new FairShare("acme", 1, "light", 1);
        var scopes = Scopes(4_000);
        var started = DateTimeOffset.UtcNow;
        var until = started + (Settings.Window * 4);
        var heavyRun = ReserveUntilAsync(heavy, scopes, until);
        var lightRun = ReserveUntilAsync(light, scopes, until);
        var (heavyAdmitted, lightAdmitted) = (await heavyRun, await lightRun);
        var usage = await _store.UsageAsync("openai", Settings);

        // As between tenants: the first window is first come, first served; the two measured start half a window after
        // a burst (see TwoTenantsReservingWithoutPauseSplitTheWindowByTheirWeights).
        var heavyTokens = TokensInSecondAndThirdWindows(heavyAdmitted, started);
        var lightTokens = TokensInSecondAndThirdWindows(lightAdmitted, started);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"one tenant, users 3:1, 4,000 tokens per 2 s, calls of 100: over two windows from 3 s heavy {heavyTokens}, light {lightTokens} tokens " +
            $"(ratio {(double)heavyTokens / lightTokens:F2})");
        Assert.InRange((double)heavyTokens / lightTokens, 2.7, 3.3);
        Assert.InRange(heavyTokens + lightTokens, 8_000 - (4 * CallTokens), 8_000 + (2 * CallTokens));
        var acme = Assert.Single(usage.Tenants);
        Assert.Equal(["heavy", "light"], acme.WaitingUsers.Select(u => u.UserId));
    }

    [Fact]
    public async Task ATenantsTwoUsersSplitItsShareOfAWindowAnotherTenantContendsFor()
    {
        // Tenants 1:1, so each may hold 2,000 of 4,000; a's users 1:1 within a's 2,000, b's one user all of b's.
        var scopes = Scopes(4_000);
        var started = DateTimeOffset.UtcNow;
        var until = started + (Settings.Window * 4);
        var runs = new[] { new FairShare("a", 1, "ana", 1), new FairShare("a", 1, "bo", 1), new FairShare("b", 1, "cy", 1) }
            .Select(user => ReserveUntilAsync(user, scopes, until)).ToList();
        var tokens = new List<int>();
        foreach (var run in runs)
        {
            tokens.Add(TokensInSecondAndThirdWindows(await run, started));
        }

        var total = (double)tokens.Sum();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"tenants a (users ana, bo) and b (user cy) 1:1, 4,000 tokens per 2 s: over two windows from 3 s ana {tokens[0]}, bo {tokens[1]}, cy {tokens[2]} tokens " +
            $"(shares {tokens[0] / total:F3}, {tokens[1] / total:F3}, {tokens[2] / total:F3})");
        Assert.InRange(tokens[0] / total, 0.225, 0.275);
        Assert.InRange(tokens[1] / total, 0.225, 0.275);
        Assert.InRange(tokens[2] / total, 0.45, 0.55);
        Assert.InRange(total, 8_000 - (6 * CallTokens), 8_000 + (3 * CallTokens));
    }

    [Fact]
    public async Task AUserAloneInItsTenantIsHeldByItsTenantsShareOnlyNeverByAUserShare()
    {
        // A light user (weight 0.1) whose tenant has no other user; another tenant (weight 0.001: its share hardly
        // lowers solo's) whose waiting users are named "only" (as solo's) and "x".
        var only = new FairShare("solo", 1, "only", 0.1);
        var scopes = Scopes(1_000);
        for (var i = 0; i < 8; i++)
        {
            Assert.True((await ReserveAsync(only, scopes)).IsReserved);
        }

        foreach (var waiting in new[] { new FairShare("other", 0.001, "only", 1), new FairShare("other", 0.001, "x", 1) })
        {
            Assert.Equal("tokens", (await _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, 300, 0), Settings, fairShare: waiting)).Reason);
        }

        // Solo may hold 1 / 1.001 of 1,000 (999 tokens); as its tenant's one user it may hold all of that, whatever its
        // weight: a share among the other tenant's users would have held it at 0.1 / 2.1 of it.
        Assert.True((await ReserveAsync(only, scopes)).IsReserved);
        var held = await ReserveAsync(only, scopes);
        Assert.Equal("fair_share", held.Reason);
        var other = Assert.Single((await _store.UsageAsync("openai", Settings)).Tenants, t => t.TenantId == "other");
        Assert.Equal(["only", "x"], other.WaitingUsers.Select(u => u.UserId));
    }

    [Fact]
    public async Task ACallAboveItsUsersShareIsHeldAsUserShareUntilTheUsersOwnCallsHaveLeftTheWindow()
    {
        var ct = TestContext.Current.CancellationToken;
        var scopes = Scopes(1_000);
        var light = new FairShare("acme", 1, "light", 1);
        Assert.True((await _store.ReserveAsync("light-first", scopes, new(1, CallTokens, 0), Settings, fairShare: light)).IsReserved);
        var firstAt = DateTimeOffset.UtcNow;
        // Another user of the tenant (weight 3) waits: light may hold 1/4 of the tenant's 1,000 (no other tenant waits).
        Assert.Equal("tokens", (await _store.ReserveAsync("heavy-large", scopes, new(1, 950, 0), Settings, fairShare: new("acme", 1, "heavy", 3))).Reason);

        var asked = DateTimeOffset.UtcNow;
        var held = await _store.ReserveAsync("light-large", scopes, new(1, 300, 0), Settings, fairShare: light);

        Assert.Equal("user_share", held.Reason);
        Assert.InRange(held.Wait!.Value, TimeSpan.FromMilliseconds(1), firstAt + Settings.Window - asked + TimeSpan.FromMilliseconds(2));
        var deadline = DateTimeOffset.UtcNow + held.Wait.Value + TimeSpan.FromMilliseconds(500);
        AdmissionVerdict verdict;
        while (!(verdict = await _store.ReserveAsync("light-large", scopes, new(1, 300, 0), Settings, fairShare: light)).IsReserved)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"the call above its user's share was still held ({verdict.Reason}) after its own call left the window");
            await Task.Delay(20, ct);
        }
    }

    /// <summary>The tokens admitted from 1.5 to 3.5 windows after the start: two windows in which every party waited.</summary>
    private static int TokensInSecondAndThirdWindows(List<DateTimeOffset> admitted, DateTimeOffset started) =>
        admitted.Count(at => at >= started + (Settings.Window * 1.5) && at < started + (Settings.Window * 3.5)) * CallTokens;
}
