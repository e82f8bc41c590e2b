using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Tests.Pipeline;

namespace LlmWorkflow.Tests.Admission;

/// <summary>The priority band (docs/ADMISSION.md, "The priority band"), on the same real redis-server.</summary>
public sealed partial class FairShareStoreTests
{
    [Fact]
    public async Task ALowPriorityFloodLeavesThePriorityBandFreeOnlyWhileAHighPriorityCallUsedTheScope()
    {
        var settings = new AdmissionSettings { Window = TimeSpan.FromSeconds(10), LeaseTimeout = TimeSpan.FromSeconds(30), BurstReserve = 0, PriorityReserve = 0.2 };
        var low = new FairShare("acme", 1);
        var high = low with { HighPriority = true };
        async Task<(int Admitted, AdmissionVerdict Held)> FillAsync(FairShare caller, List<(string Scope, LlmLimit Limit)> scopes)
        {
            var admitted = 0;
            AdmissionVerdict verdict;
            while ((verdict = await _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, CallTokens, 0), settings, fairShare: caller)).IsReserved)
            {
                admitted++;
            }

            return (admitted, verdict);
        }

        // No high-priority call lately: the band holds nothing back, a low-priority flood fills the whole limit.
        var (flooded, full) = await FillAsync(low, Scopes(1_000));
        Assert.Equal((10, "tokens"), (flooded, full.Reason));

        // Once a high-priority call used the scope, low-priority calls stop at 80 % of the limit (reason "priority",
        // until enough of the window's calls leave it); the last 20 % is the high-priority calls'.
        var band = new List<(string Scope, LlmLimit Limit)> { ("openai/band", new LlmLimit { TokensPerMinute = 1_000 }) };
        Assert.True((await _store.ReserveAsync(Guid.NewGuid().ToString("N"), band, new(1, CallTokens, 0), settings, fairShare: high)).IsReserved);
        var (lowAdmitted, lowHeld) = await FillAsync(low, band);
        Assert.Equal((7, "priority"), (lowAdmitted, lowHeld.Reason));
        Assert.InRange(lowHeld.Wait!.Value, TimeSpan.FromSeconds(9), settings.Window + TimeSpan.FromSeconds(1));
        var (highAdmitted, highHeld) = await FillAsync(high, band);
        Assert.Equal((2, "tokens"), (highAdmitted, highHeld.Reason));
    }

    /// <summary>
    /// Two high-priority calls wait on a full window; when it frees, low-priority calls woken with them reserve first
    /// (as parked flood jobs due a few milliseconds earlier do). They leave room for the two waiting calls below the band,
    /// so the band is still free for the next high-priority calls. Before, the flood took all of its 80 %, the two
    /// waiting calls the band, and the next high-priority call waited a whole window (PriorityBandPipelineTests, p50 2.4 s).
    /// </summary>
    [Fact]
    public async Task LowPriorityCallsLeaveRoomBelowTheBandForTheHighPriorityCallsWaitingOnTheScope()
    {
        var settings = BandSettings();
        var scopes = Scopes(1_000);
        Assert.Equal(10, (await FillAsync(BandLow, scopes, settings)).Admitted);
        // Both are refused by the full window (and turn the band on); they wait with what they will reserve recorded.
        Assert.Equal("tokens", (await ReserveAsync(BandHigh("first"), scopes, settings)).Reason);
        Assert.Equal("tokens", (await ReserveAsync(BandHigh("second"), scopes, settings)).Reason);
        await WaitForAnEmptyWindowAsync(settings);

        // 800 - 2 x 100 for the waiting calls: 6 low-priority calls, then held (reason "priority").
        var (lowAdmitted, lowHeld) = await FillAsync(BandLow, scopes, settings);
        Assert.Equal((6, "priority"), (lowAdmitted, lowHeld));
        Assert.True((await ReserveAsync(BandHigh("first"), scopes, settings)).IsReserved);
        Assert.True((await ReserveAsync(BandHigh("second"), scopes, settings)).IsReserved);
        // The band is still free: two more high-priority calls fit at once, and the limit holds the next.
        Assert.Equal((2, "tokens"), await FillHighAsync(scopes, settings));
    }

    /// <summary>A waiting high-priority call's record goes when it is reserved: the flood may fill the whole 80 % again.</summary>
    [Fact]
    public async Task AHighPriorityCallReservedAfterWaitingHoldsNothingBackTwice()
    {
        var settings = BandSettings();
        var scopes = Scopes(1_000);
        Assert.Equal(10, (await FillAsync(BandLow, scopes, settings)).Admitted);
        Assert.Equal("tokens", (await ReserveAsync(BandHigh("waited"), scopes, settings)).Reason);
        await WaitForAnEmptyWindowAsync(settings);

        Assert.True((await ReserveAsync(BandHigh("waited"), scopes, settings)).IsReserved);
        var (lowAdmitted, lowHeld) = await FillAsync(BandLow, scopes, settings);
        Assert.Equal((7, "priority"), (lowAdmitted, lowHeld));
    }

    private static readonly FairShare BandLow = new("acme", 1);

    // A waiting call's record lives until its retry and the grace (the window, at most 3 s): a 3-s window leaves the
    // steps after the window empties 3 s.
    private static AdmissionSettings BandSettings() =>
        new() { Window = TimeSpan.FromSeconds(3), LeaseTimeout = TimeSpan.FromSeconds(30), BurstReserve = 0, PriorityReserve = 0.2 };

    private static FairShare BandHigh(string call) => BandLow with { HighPriority = true, CallKey = call };

    private Task<AdmissionVerdict> ReserveAsync(FairShare caller, List<(string Scope, LlmLimit Limit)> scopes, AdmissionSettings settings) =>
        _store.ReserveAsync(Guid.NewGuid().ToString("N"), scopes, new(1, CallTokens, 0), settings, fairShare: caller);

    private async Task<(int Admitted, string? Reason)> FillAsync(FairShare caller, List<(string Scope, LlmLimit Limit)> scopes, AdmissionSettings settings)
    {
        var admitted = 0;
        AdmissionVerdict verdict;
        while ((verdict = await ReserveAsync(caller, scopes, settings)).IsReserved)
        {
            admitted++;
        }

        return (admitted, verdict.Reason);
    }

    private async Task<(int Admitted, string? Reason)> FillHighAsync(List<(string Scope, LlmLimit Limit)> scopes, AdmissionSettings settings)
    {
        var admitted = 0;
        AdmissionVerdict verdict;
        while ((verdict = await ReserveAsync(BandHigh($"fresh-{admitted}"), scopes, settings)).IsReserved)
        {
            admitted++;
        }

        return (admitted, verdict.Reason);
    }

    private Task WaitForAnEmptyWindowAsync(AdmissionSettings settings) =>
        WorkerCrashTests.WaitUntilAsync(async () => (await _store.UsageAsync("openai", settings)).Requests == 0, settings.Window * 2);
}
