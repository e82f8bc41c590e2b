using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Llm;

namespace LlmWorkflow.Tests.Costs;

/// <summary>The pure pieces of service tiers: flex pricing, which tier a call was billed at, the flex retry rules and the submission's fields.</summary>
[UnitTest]
public sealed class ServiceTierPricingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AFlexCallIsBilledAtHalfTheListPriceRoundedAsThePriceTableRounds()
    {
        // gpt-4o-mini: 1,000 input tokens at $0.15 and 200 output at $0.60 per million = $0.00027 list.
        var list = TestGateways.Prices.Cost("openai/gpt-4o-mini", 1_000, 200);
        Assert.Equal(0.00027m, list);
        Assert.Equal(0.000135m, TierPricing.Billed(list, ServiceTiers.Flex, 0.5m));
        Assert.Equal(0.000135m, TierPricing.Discount(list, TierPricing.Billed(list, ServiceTiers.Flex, 0.5m)));
        Assert.Equal(0.000001m, TierPricing.Billed(0.000001m, ServiceTiers.Flex, 0.5m)); // half of a millionth rounds away from zero
    }

    [Fact]
    public void AStandardCallOrAnUnpricedOneKeepsItsListPrice()
    {
        Assert.Equal(0.00027m, TierPricing.Billed(0.00027m, ServiceTiers.Standard, 0.5m));
        Assert.Equal(0m, TierPricing.Discount(0.00027m, 0.00027m));
        Assert.Null(TierPricing.Billed(null, ServiceTiers.Flex, 0.5m));
        Assert.Null(TierPricing.Discount(null, null));
    }

    [Theory]
    [InlineData(true, null, "flex")]
    [InlineData(true, "flex", "flex")]
    [InlineData(true, "default", "standard")] // OpenAI served it at standard: billed at standard
    [InlineData(true, "priority", "standard")]
    [InlineData(false, null, "standard")]
    [InlineData(false, "default", "standard")]
    public void TheTierUsedIsWhatTheAnswerSaysElseWhatWasSent(bool sentFlex, string? answered, string used) =>
        Assert.Equal(used, ServiceTiers.Used(sentFlex, answered));

    [Fact]
    public void WithoutADeadlineARefusedFlexCallFallsBackAtOnce() =>
        Assert.Equal(FlexAction.FallBack, FlexRetryPolicy.Decide(null, Now, 0, new FlexOptions()).Action);

    [Fact]
    public void WithADeadlineFarAwayFlexIsRetriedWithDoublingDelaysThenTheJobParks()
    {
        var options = new FlexOptions { RetryBaseDelay = TimeSpan.FromSeconds(2), InlineRetries = 3, ParkDelay = TimeSpan.FromMinutes(1) };
        var deadline = Now.AddHours(2);

        Assert.Equal(new FlexDecision(FlexAction.Retry, TimeSpan.FromSeconds(2)), FlexRetryPolicy.Decide(deadline, Now, 0, options));
        Assert.Equal(new FlexDecision(FlexAction.Retry, TimeSpan.FromSeconds(8)), FlexRetryPolicy.Decide(deadline, Now, 2, options));
        Assert.Equal(new FlexDecision(FlexAction.Park, Until: Now.AddMinutes(1)), FlexRetryPolicy.Decide(deadline, Now, 3, options));
    }

    [Fact]
    public void WaitsNeverReachIntoTheMarginAndInsideItTheCallFallsBack()
    {
        var options = new FlexOptions { FallbackMargin = TimeSpan.FromMinutes(5), RetryBaseDelay = TimeSpan.FromMinutes(1), ParkDelay = TimeSpan.FromMinutes(10) };
        var deadline = Now.AddMinutes(5).AddSeconds(30);

        Assert.Equal(new FlexDecision(FlexAction.Retry, TimeSpan.FromSeconds(30)), FlexRetryPolicy.Decide(deadline, Now, 0, options));
        Assert.Equal(new FlexDecision(FlexAction.Park, Until: Now.AddSeconds(30)), FlexRetryPolicy.Decide(deadline, Now, options.InlineRetries, options));
        Assert.Equal(FlexAction.FallBack, FlexRetryPolicy.Decide(deadline, Now.AddSeconds(30), 0, options).Action);
        Assert.Equal(FlexAction.FallBack, FlexRetryPolicy.Decide(Now.AddMinutes(4), Now, 0, options).Action);
    }

    [Fact]
    public void ADeadlineAloneMeansFlexAndNothingAskedMeansStandard()
    {
        Assert.Equal((null, 0), Count(ServiceTierInput.Resolve(null, null, null, Now)));
        Assert.Equal((null, 0), Count(ServiceTierInput.Resolve("standard", null, null, Now)));
        Assert.Equal(new ServiceTierRequest("flex"), ServiceTierInput.Resolve("flex", null, null, Now).Tier);
        Assert.Equal(new ServiceTierRequest("flex", Now.AddHours(1)), ServiceTierInput.Resolve(null, "2026-11-28T12:00:00+01:00", null, Now).Tier);
    }

    [Fact]
    public void BatchIsKeptWithItsDeadlineAndPricedAtItsMultiplier()
    {
        Assert.Equal(new ServiceTierRequest("batch"), ServiceTierInput.Resolve("batch", null, null, Now).Tier);
        Assert.Equal(new ServiceTierRequest("batch", Now.AddHours(1)), ServiceTierInput.Resolve("batch", "2026-11-28T12:00:00+01:00", null, Now).Tier);
        Assert.Equal(0.00105m, TierPricing.Discounted(0.0021m, 0.5m));
        Assert.Null(TierPricing.Discounted(null, 0.5m));
    }

    [Theory]
    [InlineData("Flex", null, "service_tier", "\"standard\", \"flex\", \"batch\"")]
    [InlineData("standard", "2026-11-28T12:00:00Z", "deadline", "flex and batch tiers")]
    [InlineData("batch", "2026-11-28T09:00:00Z", "deadline", "in the past")]
    [InlineData("flex", "2026-11-28T09:00:00Z", "deadline", "in the past")]
    [InlineData("flex", "2026-11-28 12:00", "deadline", "RFC 3339")]
    [InlineData(null, "tomorrow", "deadline", "RFC 3339")]
    [InlineData("flex", "2026-11-28T10:30:00Z", "deadline", "after run_at")]
    public void BadTiersAndDeadlinesAreRefusedNamingTheField(string? tier, string? deadline, string field, string says)
    {
        var (resolved, problems) = ServiceTierInput.Resolve(tier, deadline, Now.AddHours(1), Now);

        Assert.Null(resolved);
        var problem = Assert.Single(problems);
        Assert.Equal(field, problem.Field);
        Assert.Contains(says, problem.Message, StringComparison.Ordinal);
    }

    private static (ServiceTierRequest?, int) Count((ServiceTierRequest? Tier, IReadOnlyList<SubmissionProblem> Problems) result) =>
        (result.Tier, result.Problems.Count);
}
