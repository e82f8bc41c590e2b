using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.External;

/// <summary>
/// What the gateway tells the cache ledger (document 001's <c>external_api_cache</c>) and the lifetime document 001's
/// <c>CACHE_DEFAULT_TTL</c> (<c>External:DefaultCacheTtl</c>) gives cached answers.
/// </summary>
[IntegrationTest]
public sealed class ExternalCacheLedgerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ACachedAnswerIsRecordedOnceAndEachHitCounted()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var ledger = new RecordingLedger();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl), ledger: ledger);

        for (var i = 0; i < 3; i++)
        {
            await gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Lisbon" }, Ct);
        }

        var stored = Assert.Single(ledger.Stored);
        Assert.Equal(("weatherapi", "current", TimeSpan.FromMinutes(10)), (stored.Service, stored.Operation, stored.Ttl));
        Assert.Equal(ExternalCacheKey.For("weatherapi", "current", new JsonObject { ["location"] = "Lisbon" }), stored.Key);
        Assert.NotNull(JsonNode.Parse(stored.Answer));
        Assert.Equal([stored.Key, stored.Key], ledger.Hits);
        Assert.Equal(1, fake.CallCount);
    }

    [Fact]
    public async Task TheDefaultCacheTtlReplacesBuiltInLifetimesButNotConfiguredOnes()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        options.DefaultCacheTtl = TimeSpan.FromHours(1);
        options.Services["weatherapi"].OperationCacheTtl["forecast"] = TimeSpan.FromMinutes(5);
        var ledger = new RecordingLedger();
        var gateway = TestExternalGateways.Create(options, ledger: ledger);

        await gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Porto" }, Ct);
        await gateway.CallAsync("weatherapi", "forecast", new JsonObject { ["location"] = "Porto", ["days"] = 2 }, Ct);

        Assert.Equal([("current", TimeSpan.FromHours(1)), ("forecast", TimeSpan.FromMinutes(5))], ledger.Stored.Select(s => (s.Operation, s.Ttl)));
    }

    private sealed class RecordingLedger : IExternalCacheLedger
    {
        public List<(string Service, string Operation, string Key, string Answer, TimeSpan Ttl)> Stored { get; } = [];

        public List<string> Hits { get; } = [];

        public ValueTask StoredAsync(string service, string operation, string key, string answerJson, TimeSpan ttl, CancellationToken cancellationToken)
        {
            Stored.Add((service, operation, key, answerJson, ttl));
            return ValueTask.CompletedTask;
        }

        public ValueTask HitAsync(string key, CancellationToken cancellationToken)
        {
            Hits.Add(key);
            return ValueTask.CompletedTask;
        }
    }
}
