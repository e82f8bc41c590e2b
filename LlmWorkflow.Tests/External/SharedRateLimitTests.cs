using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Redis;
using LlmWorkflow.Storage.External;

namespace LlmWorkflow.Tests.External;

/// <summary>Token buckets in a real Redis, shared by two gateway instances (two "workers").</summary>
[IntegrationTest]
public sealed class SharedRateLimitTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly string _prefix = LocalRedisFixture.UniqueKey("ratelimit") + ":";

    [Fact]
    public async Task TwoWorkersTogetherStayWithinTheBucket()
    {
        const int capacity = 2;
        const double perSecond = 5;
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = Limited(fake, new RateLimitOptions { Capacity = capacity, RefillPerSecond = perSecond, MaxWait = TimeSpan.FromSeconds(10) });
        var workers = new[]
        {
            TestExternalGateways.Create(options, rateLimiter: new RedisRateLimiter(redis.Client, _prefix)),
            TestExternalGateways.Create(options, rateLimiter: new RedisRateLimiter(redis.Client, _prefix)),
        };

        // Each worker opens its connection first: a cold connection delays its call's arrival at the fake (not its
        // token), which shortened the measured span below what the bucket allowed on a loaded machine. Then the bucket
        // refills to its capacity (capacity / rate = 0.4 s) before the measured calls.
        for (var w = 0; w < workers.Length; w++)
        {
            await workers[w].CallAsync("weatherapi", "current", new JsonObject { ["location"] = $"warm-{w}" }, TestContext.Current.CancellationToken);
        }

        await Task.Delay(TimeSpan.FromSeconds(capacity / perSecond + 0.5), TestContext.Current.CancellationToken);
        var warmUp = fake.Requests.Count;

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            workers[i % 2].CallAsync("weatherapi", "current", new JsonObject { ["location"] = $"city-{i}" }, TestContext.Current.CancellationToken)));

        var times = fake.Requests.Skip(warmUp).Select(r => r.Timestamp).Order().ToArray();
        Assert.Equal(12, times.Length);
        // 2 at once, then one every 200 ms: the 12th call cannot come before ~2 s.
        Assert.True(Stopwatch.GetElapsedTime(times[0], times[^1]) >= TimeSpan.FromSeconds(1.8), $"12 calls took {Stopwatch.GetElapsedTime(times[0], times[^1])}");
        // In any 1 s window: at most the burst plus one second of refill (+1 for a token refilled at the window's edge).
        var window = TimeSpan.FromSeconds(1);
        for (var i = 0; i < times.Length; i++)
        {
            var inWindow = times.Skip(i).Count(t => Stopwatch.GetElapsedTime(times[i], t) < window);
            Assert.True(inWindow <= capacity + perSecond + 1, $"{inWindow} calls within 1 s starting at call {i}");
        }
    }

    [Fact]
    public async Task NoTokenWithinTheMaxWaitIsARetryableExternalError()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = Limited(fake, new RateLimitOptions { Capacity = 1, RefillPerSecond = 0.2, MaxWait = TimeSpan.FromMilliseconds(200) });
        var first = TestExternalGateways.Create(options, rateLimiter: new RedisRateLimiter(redis.Client, _prefix));
        var second = TestExternalGateways.Create(options, rateLimiter: new RedisRateLimiter(redis.Client, _prefix));

        await first.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "a" }, TestContext.Current.CancellationToken);
        var error = (await Assert.ThrowsAsync<WorkflowException>(() =>
            second.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "b" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((ErrorCategory.ExternalError, "rate_limit_wait_exceeded", true), (error.Category, error.Type, error.Retryable));
        Assert.Equal(5, error.RetryAfterSeconds);
        Assert.Equal(1, fake.CallCount);
    }

    [Fact]
    public async Task TheInProcessLimiterAppliesTheSameRule()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = Limited(fake, new RateLimitOptions { Capacity = 1, RefillPerSecond = 0.2, MaxWait = TimeSpan.FromMilliseconds(100) });
        var gateway = TestExternalGateways.Create(options, rateLimiter: new LocalRateLimiter());

        await gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "a" }, TestContext.Current.CancellationToken);
        var error = (await Assert.ThrowsAsync<WorkflowException>(() =>
            gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "b" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal("rate_limit_wait_exceeded", error.Type);
        Assert.Equal(1, fake.CallCount);
    }

    private static ExternalServicesOptions Limited(FakeWeatherApiServer fake, RateLimitOptions limit)
    {
        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        options.Services["weatherapi"].RateLimit = limit;
        options.Services["weatherapi"].CacheTtl = TimeSpan.Zero;
        return options;
    }
}
