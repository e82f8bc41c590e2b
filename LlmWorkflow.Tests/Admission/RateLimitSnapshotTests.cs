using LlmWorkflow.Engine.Llm.Admission;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// What a provider's answer says of its limits: OpenAI's and Anthropic's remaining counts and the limits themselves
/// (followed when lower than the configured ones); a limit of 0 or -1 (Azure's "unknown") is not taken as a limit.
/// </summary>
[UnitTest]
public sealed class RateLimitSnapshotTests
{
    [Fact]
    public void OpenAisLimitAndRemainingHeadersAreRead()
    {
        var snapshot = RateLimitSnapshot.From(Headers(
            ("x-ratelimit-limit-requests", "5000"), ("x-ratelimit-limit-tokens", "30000"),
            ("x-ratelimit-remaining-requests", "4999"), ("x-ratelimit-remaining-tokens", "29000"),
            ("x-ratelimit-reset-tokens", "2s")));

        Assert.NotNull(snapshot);
        Assert.Equal((4999L, 29000L), (snapshot.Requests, snapshot.Tokens));
        Assert.Equal(new RateLimitLimits(5000, 30000, null, null), snapshot.Limits);
    }

    [Fact]
    public void AnthropicsLimitHeadersAreRead()
    {
        var snapshot = RateLimitSnapshot.From(Headers(
            ("anthropic-ratelimit-input-tokens-limit", "80000"), ("anthropic-ratelimit-input-tokens-remaining", "79000"),
            ("anthropic-ratelimit-output-tokens-limit", "16000"), ("anthropic-ratelimit-requests-limit", "1000")));

        Assert.NotNull(snapshot);
        Assert.Equal(79000L, snapshot.InputTokens);
        Assert.Equal(new RateLimitLimits(1000, null, 80000, 16000), snapshot.Limits);
    }

    [Fact]
    public void AZeroOrNegativeLimitIsNotALimit()
    {
        var snapshot = RateLimitSnapshot.From(Headers(("x-ratelimit-limit-tokens", "-1"), ("x-ratelimit-limit-requests", "0"), ("x-ratelimit-remaining-tokens", "10")));

        Assert.NotNull(snapshot);
        Assert.Null(snapshot.Limits);
        Assert.Null(RateLimitSnapshot.From(Headers(("x-ratelimit-limit-tokens", "0"))));
    }

    private static System.Net.Http.Headers.HttpResponseHeaders Headers(params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage();
        foreach (var (name, value) in headers)
        {
            response.Headers.Add(name, value);
        }

        return response.Headers;
    }
}
