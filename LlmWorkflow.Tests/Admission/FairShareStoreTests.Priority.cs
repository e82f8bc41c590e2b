using LlmWorkflow.Engine.Llm.Admission;

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
}
