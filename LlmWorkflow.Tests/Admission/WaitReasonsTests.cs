using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm.Admission;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Why a budget wait waits, in operators' words (waiting_for.reason, the run_waiting event), with the provider it is on;
/// and the provider's reset headers (OpenAI's durations, Anthropic's times) a 429 without retry-after parks until.
/// </summary>
[UnitTest]
public sealed class WaitReasonsTests
{
    [Theory]
    [InlineData("openai", "tokens", null, "openai", "tokens")]
    [InlineData("openai/gpt-4o-mini", "output_tokens", null, "openai", "tokens")]
    [InlineData("openai", "fair_share", null, "openai", "share")]
    [InlineData("openai", "outage", "openai", "openai", "outage")]
    [InlineData("tenant:acme", "requests", "anthropic", "anthropic", "requests")]
    [InlineData("tenant:acme", "requests", null, null, "requests")]
    [InlineData("key:0123456789ab", "paused", "openai", "openai", "paused")]
    public void ABudgetWaitNamesItsProviderAndReason(string scope, string reason, string? recordedProvider, string? provider, string expected)
    {
        var wait = new RunWait("answer", "answer", "budget", DateTimeOffset.UtcNow, Budget: new JsonObject { ["scope"] = scope, ["reason"] = reason, ["provider"] = recordedProvider });

        Assert.Equal((provider, expected), (WaitReasons.Provider(wait), WaitReasons.Reason(wait)));
    }

    [Fact]
    public void ADollarBudgetsWaitIsDollarsAndNoProviders()
    {
        var wait = new RunWait("answer", "answer", "budget", DateTimeOffset.UtcNow,
            Budget: new JsonObject { ["scope"] = "acme:daily", ["reason"] = "usd", ["limit_usd"] = 5.0 });

        Assert.Equal((null, "dollars"), (WaitReasons.Provider(wait), WaitReasons.Reason(wait)));
    }

    [Fact]
    public void TheRunWaitingEventSaysTheProviderAndTheReason()
    {
        var wait = new RunWait("answer", "answer", "budget", DateTimeOffset.UtcNow.AddSeconds(5),
            Budget: new JsonObject { ["scope"] = "openai", ["reason"] = "outage", ["provider"] = "openai" });

        var json = ProgressEventJson.ToJson(new RunWaiting("job-1", DateTimeOffset.UtcNow, wait));

        Assert.Equal(("run_waiting", "openai", "outage"), ((string?)json["type"], (string?)json["provider"], (string?)json["reason"]));
    }

    [Theory]
    [InlineData("6m0s", 360_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("20ms", 20)]
    [InlineData("1h2m3s", 3_723_000)]
    public void OpenAisResetDurationsAreRead(string value, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), RateLimitSnapshot.ParseReset(value));

    [Fact]
    public void AnthropicsResetTimeIsReadAsTheWaitUntilIt()
    {
        var reset = RateLimitSnapshot.ParseReset(DateTimeOffset.UtcNow.AddSeconds(30).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture))!.Value;

        Assert.InRange(reset, TimeSpan.FromSeconds(28), TimeSpan.FromSeconds(31));
        Assert.Null(RateLimitSnapshot.ParseReset("soon"));
    }
}
