using System.Globalization;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Storage.Admission;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Llm;
using LlmWorkflow.Tests.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;
using static LlmWorkflow.Tests.Admission.TenantScopePauseTests;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// The outage breaker's work done in admission's own scripts (docs/ADMISSION.md, "Outages park"): a call through the
/// gateway with admission and the breaker on sends Redis two scripts (the reservation, the reconcile-and-release) and no
/// round trip of the breaker's own while it is closed; an open breaker still parks the step before anything is
/// reserved; a probe's answer closes it and wakes its parked steps; a call admission reserves nothing for still goes
/// through the breaker's own round trips. Counted on a redis-server of this class's own (INFO commandstats counts every
/// client's commands, so the shared one would count other tests').
/// </summary>
[IntegrationTest]
public sealed class OutageBreakerFoldingTests : IAsyncLifetime
{
    private const string Model = "openai/gpt-4o-mini";
    private static readonly Dictionary<string, string> Keys = new() { ["OPENAI_API_KEY"] = "sk-test-openai-0123456789" };
    private static readonly AdmissionOptions Budgeted = new() { Limits = { ["openai"] = new LlmLimit { TokensPerMinute = 1_000_000, ConcurrentCalls = 10 } } };

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("llmwf-outage-fold-");
    private LocalRedis _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private FakeOpenAiServer _llm = null!;

    public async ValueTask InitializeAsync()
    {
        _server = new LocalRedis(new LocalRedisOptions { DataDirectory = _folder.FullName });
        await _server.StartAsync(TestContext.Current.CancellationToken);
        _redis = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString + ",allowAdmin=true");
        _llm = await FakeOpenAiServer.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _llm.DisposeAsync();
        await _redis.DisposeAsync();
        await _server.StopAsync(kill: true, CancellationToken.None);
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task AnAnsweredCallWithTheBreakerClosedSendsTwoScriptsAndNoBreakerRoundTrip()
    {
        var folded = Build(Budgeted, fold: true);
        await folded.AskAsync(); // loads the scripts

        var (scripts, exists) = await CountAsync(folded.AskAsync);

        // The breaker asked in the reservation, told in the reconcile-and-release.
        Assert.Equal((2, 0), (scripts, exists));
        Assert.Equal("closed", (await folded.Outages.StateAsync("openai")).State);

        // The same call where admission's store does not do the breaker's work: its own check and report, as before.
        var separate = Build(Budgeted, fold: false);
        await separate.AskAsync();
        Assert.Equal((3, 1), await CountAsync(separate.AskAsync));
    }

    [Fact]
    public async Task AnOpenBreakerParksTheStepBeforeAnythingIsReserved()
    {
        var rig = Build(Budgeted, fold: true);
        var until = await rig.Outages.FailedAsync("openai", new ProviderOutageOptions { ConsecutiveFailures = 1, ProbeInterval = TimeSpan.FromMinutes(1) });
        var sent = _llm.Requests.Count;

        AdmissionDeferredException? parked = null;
        var (scripts, exists) = await CountAsync(async () => parked = await Assert.ThrowsAsync<AdmissionDeferredException>(rig.AskAsync));

        Assert.Equal((ProviderOutageBreaker.Reason, "openai", "openai", until), (parked!.Reason, parked.Scope, parked.Provider, (DateTimeOffset?)parked.Until));
        // The reservation's script alone answered it: nothing reserved, nothing sent.
        Assert.Equal((1, 0), (scripts, exists));
        var usage = await rig.Admission.UsageAsync("openai", Budgeted.Admission);
        Assert.Equal((0, 0, 0), (usage.Requests, usage.InputTokens, usage.InFlight));
        Assert.Equal(sent, _llm.Requests.Count);
    }

    [Fact]
    public async Task AProbeThatIsAnsweredClosesTheBreakerAndWakesItsParkedStepsThroughTheFoldedScripts()
    {
        var rig = Build(Budgeted, fold: true);
        await rig.AskAsync(); // loads the scripts
        await rig.Outages.FailedAsync("openai", new ProviderOutageOptions { ConsecutiveFailures = 1, ProbeInterval = TimeSpan.FromMilliseconds(200) });
        await WorkerCrashTests.WaitUntilAsync(async () => (await rig.Outages.StateAsync("openai")).State == "half_open", TimeSpan.FromSeconds(10));
        var notices = await _redis.GetSubscriber().SubscribeAsync(rig.Admission.ReleasedChannel);
        var sent = _llm.Requests.Count;

        var (scripts, exists) = await CountAsync(rig.AskAsync);

        Assert.Equal((2, 0), (scripts, exists));
        Assert.Equal(sent + 1, _llm.Requests.Count);
        Assert.Equal("closed", (await rig.Outages.StateAsync("openai")).State);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var message = await notices.ReadAsync(timeout.Token);
        var notice = RedisAdmissionStore.ReadNotice(message.Message);
        Assert.Equal(["openai"], notice!.Value.Scopes);
        Assert.True(notice.Value.Wake > 1, "a closed breaker wakes every step parked on the provider");
        await notices.UnsubscribeAsync();
    }

    [Fact]
    public async Task ACallAdmissionReservesNothingForGoesThroughTheBreakersOwnRoundTrips()
    {
        // No budget for openai: nothing is reserved, so no script of admission's asks the breaker. The breaker's check
        // (a script) and its report (EXISTS), and admission's pause check (EXISTS).
        var rig = Build(new AdmissionOptions(), fold: true);
        await rig.AskAsync();
        Assert.Equal((1, 2), await CountAsync(rig.AskAsync));

        await rig.Outages.FailedAsync("openai", new ProviderOutageOptions { ConsecutiveFailures = 1, ProbeInterval = TimeSpan.FromMinutes(1) });
        var parked = await Assert.ThrowsAsync<AdmissionDeferredException>(rig.AskAsync);
        Assert.Equal((ProviderOutageBreaker.Reason, "openai"), (parked.Reason, parked.Provider));
    }

    /// <summary>
    /// The round trips to Redis during <paramref name="call"/> that ran a script (EVALSHA, or EVAL of one not loaded yet)
    /// or EXISTS, as this client sent them (StackExchange.Redis's profiler). Redis's own count of scripts run agrees
    /// (INFO commandstats; its EXISTS count also holds the scripts' own calls, so it is not the round trips').
    /// </summary>
    private async Task<(long Scripts, long Exists)> CountAsync(Func<Task> call)
    {
        var server = _redis.GetServer(_redis.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();
        var session = new ProfilingSession();
        _redis.RegisterProfiler(() => session);
        try
        {
            await call();
        }
        finally
        {
            _redis.RegisterProfiler(() => null);
        }

        var sent = session.FinishProfiling().Select(command => command.Command).ToList();
        var stats = (await server.InfoAsync("commandstats")).SelectMany(group => group).ToDictionary(pair => pair.Key, pair => pair.Value);
        long Ran(string command) => stats.TryGetValue("cmdstat_" + command, out var line)
            ? long.Parse(line.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture)
            : 0;
        var scripts = sent.Count(command => command is "EVALSHA" or "EVAL");
        TestContext.Current.TestOutputHelper?.WriteLine($"sent: {string.Join(' ', sent)}; Redis ran evalsha {Ran("evalsha")}, eval {Ran("eval")}");
        Assert.Equal(scripts, Ran("evalsha") + Ran("eval"));
        return (scripts, sent.Count(command => command == "EXISTS"));
    }

    /// <summary>The gateway over the fake provider with admission's middleware and the breaker, on a key prefix of its own.</summary>
    private Rig Build(AdmissionOptions options, bool fold)
    {
        var prefix = $"t-{Guid.NewGuid():N}:";
        var admissionStore = new RedisAdmissionStore(_redis, prefix);
        var outages = new RedisOutageStore(_redis, admissionStore, prefix);
        var breaker = new ProviderOutageBreaker(outages, new StaticOptionsMonitor<ProviderOutageOptions>(new ProviderOutageOptions()), NullLogger<ProviderOutageBreaker>.Instance);
        var admission = new LlmAdmission(new StaticOptionsMonitor<AdmissionOptions>(options), fold ? admissionStore : new SeparateBreakerStore(admissionStore),
            new NoOutputHistory(), TimeProvider.System, NullLogger<LlmAdmission>.Instance);
        var registry = new LlmProviderRegistry(
            Microsoft.Extensions.Options.Options.Create(TestGateways.Options(("openai", new LlmProviderOptions { BaseUrl = _llm.ApiUrl.ToString() }))),
            name => Keys.GetValueOrDefault(name))
        {
            Middleware = [new Admitting(admission)],
        };
        var gateway = new LlmGateway(registry, TestGateways.Prices, new MemoryResponseCache(new MemoryCache(new MemoryCacheOptions())),
            NullLogger<LlmGateway>.Instance, outage: breaker);
        return new Rig(gateway, admissionStore, outages);
    }

    private sealed record Rig(LlmGateway Gateway, RedisAdmissionStore Admission, RedisOutageStore Outages)
    {
        public Task AskAsync() => Gateway.CompleteAsync(TestGateways.Ask(Model), TestContext.Current.CancellationToken);
    }

    private sealed class Admitting(ILlmAdmission admission) : IProviderClientMiddleware
    {
        public IChatClient Wrap(IChatClient client, ModelId model, ResolvedProvider? provider) => new AdmissionChatClient(client, model, provider, admission);
    }

    /// <summary>Redis's budgets, as a store that does not do the breaker's work: the breaker then makes its own round trips.</summary>
    private sealed class SeparateBreakerStore(RedisAdmissionStore inner) : IAdmissionStore
    {
        public Task<AdmissionVerdict> ReserveAsync(string leaseId, IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, AdmissionAmounts amounts, AdmissionSettings settings,
            string? provider = null, FairShare? fairShare = null, TimeSpan? outageProbeTimeout = null) =>
            inner.ReserveAsync(leaseId, scopes, amounts, settings, provider, fairShare, outageProbeTimeout);

        public Task<AnsweredRelease> ReconcileAndReleaseAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings, string? outageProvider = null) =>
            inner.ReconcileAndReleaseAsync(leaseId, scopes, used, settings, outageProvider);

        public Task ReconcileAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings) => inner.ReconcileAsync(leaseId, scopes, used, settings);

        public Task<bool> ReleaseAsync(string leaseId, IReadOnlyList<string> scopes) => inner.ReleaseAsync(leaseId, scopes);

        public Task ShrinkAsync(IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, RateLimitSnapshot snapshot, TimeSpan? blockedFor, AdmissionSettings settings) =>
            inner.ShrinkAsync(scopes, snapshot, blockedFor, settings);

        public Task SetPausedAsync(string provider, bool paused) => inner.SetPausedAsync(provider, paused);

        public Task<bool> IsPausedAsync(string provider) => inner.IsPausedAsync(provider);

        public Task<AdmissionUsage> UsageAsync(string scope, AdmissionSettings settings) => inner.UsageAsync(scope, settings);
    }
}
