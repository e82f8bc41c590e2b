using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Llm;
using LlmWorkflow.Tests.Redis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using LlmWorkflow.Storage.External;

namespace LlmWorkflow.Tests.External;

/// <summary>Two gateway instances (two "workers") with their own memory but one real Redis.</summary>
[IntegrationTest]
public sealed class SharedRedisCacheTests(LocalRedisFixture redis) : IClassFixture<LocalRedisFixture>
{
    private readonly string _prefix = LocalRedisFixture.UniqueKey("cache") + ":";

    [Fact]
    public async Task ExternalResultFetchedByOneWorkerIsServedToAnotherFromRedis()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        var metrics = new ExternalServiceMetrics();
        using var counts = new CacheCounters(metrics);
        var first = TestExternalGateways.Create(options, cache: NewWorkerCache(), metrics: metrics);
        var second = TestExternalGateways.Create(options, cache: NewWorkerCache(), metrics: metrics);
        var parameters = new JsonObject { ["location"] = "Lisbon" };

        var fetched = await first.CallAsync("weatherapi", "current", parameters, TestContext.Current.CancellationToken);
        fake.TemperatureC = -5;
        var shared = await second.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Lisbon" }, TestContext.Current.CancellationToken);

        Assert.Equal(1, fake.CallCount);
        Assert.Equal(fetched!.ToJsonString(), shared!.ToJsonString());
        Assert.Equal((1, 1), (counts.Hits, counts.Misses));
        Assert.Equal(("weatherapi", "current"), counts.LastTags);
    }

    [Fact]
    public async Task CacheEntriesExpireWithTheirConfiguredTtl()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        options.Services["weatherapi"].OperationCacheTtl["current"] = TimeSpan.FromMilliseconds(300);
        var first = TestExternalGateways.Create(options, cache: NewWorkerCache());
        var second = TestExternalGateways.Create(options, cache: NewWorkerCache());

        await first.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Madrid" }, TestContext.Current.CancellationToken);
        var ttl = (long)((await redis.Client.GetDatabase().KeyTimeToLiveAsync(
            _prefix + ExternalCacheKey.For("weatherapi", "current", new JsonObject { ["location"] = "Madrid" })))?.TotalMilliseconds ?? -2);
        await WaitUntilKeyGone(ExternalCacheKey.For("weatherapi", "current", new JsonObject { ["location"] = "Madrid" }));
        await second.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Madrid" }, TestContext.Current.CancellationToken);

        Assert.InRange(ttl, 1, 300);
        Assert.Equal(2, fake.CallCount);
    }

    [Fact]
    public async Task LlmAnswerPaidByOneWorkerIsACacheHitForAnother()
    {
        await using var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { PromptTokens = 5000, CompletionTokens = 3000 });
        var options = TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = fake.ApiUrl.ToString() }));
        var keys = new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-test-0123456789" };
        var first = TestGateways.Create(options, keys, NewWorkerCache());
        var second = TestGateways.Create(options, keys, NewWorkerCache());
        var request = TestGateways.Ask("openai/gpt-4o") with { CacheTtl = TimeSpan.FromMinutes(1) };

        var paid = await first.CompleteAsync(request, TestContext.Current.CancellationToken);
        var cached = await second.CompleteAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(1, fake.CallCount);
        Assert.Equal((false, 0.0425m), (paid.CacheHit, paid.CostUsd));
        Assert.Equal((true, 0m, 5000, 3000), (cached.CacheHit, cached.CostUsd, cached.InputTokens, cached.OutputTokens));
        Assert.Equal(paid.Text, cached.Text);
    }

    private TieredResponseCache NewWorkerCache() => new(
        new MemoryCache(new MemoryCacheOptions()), redis.Client, TimeSpan.FromMinutes(5), NullLogger<TieredResponseCache>.Instance, _prefix);

    private async Task WaitUntilKeyGone(string key)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (await redis.Client.GetDatabase().KeyExistsAsync(_prefix + key))
        {
            Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(5), "cache entry did not expire");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Listens to the hit/miss counters of one metrics instance only (other tests run in parallel).</summary>
    private sealed class CacheCounters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _hits;
        private int _misses;

        public CacheCounters(ExternalServiceMetrics metrics)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var service = tags.ToArray().Single(t => t.Key == "service").Value as string;
                var operation = tags.ToArray().Single(t => t.Key == "operation").Value as string;
                LastTags = (service, operation);
                if (instrument.Name == "llmworkflow.external.cache.hits")
                {
                    Interlocked.Add(ref _hits, (int)value);
                }
                else if (instrument.Name == "llmworkflow.external.cache.misses")
                {
                    Interlocked.Add(ref _misses, (int)value);
                }
            });
            _listener.Start();
        }

        public int Hits => Volatile.Read(ref _hits);

        public int Misses => Volatile.Read(ref _misses);

        public (string?, string?) LastTags { get; private set; }

        public void Dispose() => _listener.Dispose();
    }
}
