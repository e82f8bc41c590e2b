using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class ReconnectBackoffTests
{
    [Fact]
    public void AFailureMakesCallersFailFastUntilTheDelayPasses()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromHours(1), TimeSpan.FromHours(2));
        backoff.ThrowIfWaiting();

        backoff.Failed(new RedisConnectionException("Connection refused"));

        var error = Assert.Throws<RedisConnectionException>(backoff.ThrowIfWaiting);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
        Assert.Contains("next connection attempt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASuccessResetsTheBackoff()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromHours(1), TimeSpan.FromHours(2));
        backoff.Failed(new RedisConnectionException("down"));

        backoff.Succeeded();

        backoff.ThrowIfWaiting();
    }

    [Fact]
    public void ADelayThatHasPassedAllowsTheNextAttempt()
    {
        var backoff = new ReconnectBackoff(TimeSpan.Zero, TimeSpan.Zero);
        backoff.Failed(new RedisConnectionException("down"));

        backoff.ThrowIfWaiting();
    }
}
