using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// An API key's scope on a real redis-server: calls through two providers using one key fill one budget, and a
/// provider's headers and 429 shrink and block the provider's scope but not the key's (they count per model).
/// </summary>
[IntegrationTest]
public sealed class KeyScopeAdmissionTests(TestServers servers)
{
    [Fact]
    public async Task TwoProvidersFillOneKeyBudgetWhichTheirHeadersAndA429DoNotShrink()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await servers.RedisAsync()).ConnectionString);
        var store = new RedisAdmissionStore(redis, $"t-{Guid.NewGuid():N}:");
        var key = AdmissionOptions.KeyScope("sk-shared");
        var options = new AdmissionOptions
        {
            Limits = { ["openai"] = new LlmLimit { TokensPerMinute = 1_000 } },
            ProviderKeys = { ["openai"] = new(key, new LlmLimit { RequestsPerMinute = 3 }), ["openai-eu"] = new(key, null) },
            Admission = { Window = TimeSpan.FromSeconds(30) },
        };
        var admission = new LlmAdmission(new TenantScopePauseTests.StaticOptionsMonitor<AdmissionOptions>(options), store,
            new TenantScopePauseTests.NoOutputHistory(), TimeProvider.System, NullLogger<LlmAdmission>.Instance);

        // The provider says 100 tokens are left, then refuses the next call: its scope follows, the key's does not.
        await using (var answered = await AdmitAsync(admission, "openai/gpt-4o-mini"))
        {
            await answered.ReconcileAsync(10, 10, new RateLimitSnapshot(null, 100, null, null, null));
        }

        await using (var refused = await AdmitAsync(admission, "openai/gpt-4o-mini"))
        {
            await refused.RateLimitedAsync(TimeSpan.FromSeconds(20), null);
        }

        Assert.Equal(900, (await store.UsageAsync("openai", options.Admission)) is var used ? used.InputTokens + used.OutputTokens : 0);
        Assert.Equal((2, 20), (await store.UsageAsync(key, options.Admission)) is var k ? (k.Requests, k.InputTokens + k.OutputTokens) : default);
        var blocked = await Assert.ThrowsAsync<AdmissionDeferredException>(async () => await AdmitAsync(admission, "openai/gpt-4o-mini"));
        Assert.Equal(("openai", "rate_limited"), (blocked.Scope, blocked.Reason));

        // The key is not blocked: openai-eu takes its third request; a fourth, through either provider, waits.
        await (await AdmitAsync(admission, "openai-eu/gpt-4o")).DisposeAsync();
        var deferred = await Assert.ThrowsAsync<AdmissionDeferredException>(async () => await AdmitAsync(admission, "openai-eu/gpt-4o-mini"));
        Assert.Equal((key, "requests"), (deferred.Scope, deferred.Reason));
    }

    private static async Task<AdmissionLease> AdmitAsync(LlmAdmission admission, string model) =>
        await admission.AdmitAsync(ModelId.Parse(model), new LlmCallRequest([model], [new(ChatRole.User, "hi")], MaxTokens: 10), CancellationToken.None);
}
