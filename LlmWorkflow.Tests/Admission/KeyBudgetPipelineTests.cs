using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Llm.Admission;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// Budgets per provider key (<c>Llm:Providers:&lt;name&gt;:KeyLimits</c>) on real servers: two workers, two provider
/// entries (<c>openai</c> and <c>openai-eu</c>) in front of one fake OpenAI that limits tokens per window per API key.
/// Entries sharing a key share one budget; entries with different keys each have their own.
/// </summary>
[IntegrationTest]
public sealed class KeyBudgetPipelineTests(TestServers servers)
{
    private const int KeyTokens = 2_000;
    // The fake counts a call when it arrives, the service when it reserves: the margin FairSharePipelineTests keeps.
    private const int ProviderTokens = 2_200;
    private const int JobsPerProvider = 8;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task TwoProviderEntriesWithOneKeyShareItsBudget()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(ProviderTokens, Window);
        // KeyLimits on openai only: openai-eu uses the same key, so its calls reserve in the same scope.
        var run = await RunAsync(llm, nameof(TwoProviderEntriesWithOneKeyShareItsBudget), "sk-shared-key", "sk-shared-key", limitsOnBoth: false, ct);

        var scope = Assert.Single(run.KeyScopes);
        Assert.Equal(AdmissionOptions.KeyScope("sk-shared-key"), (string?)scope["scope"]);
        Assert.Equal(["openai", "openai-eu"], scope["providers"]!.AsArray().Select(p => (string?)p));
        Assert.Equal(KeyTokens, (int?)scope["limits"]!["tokens_per_minute"]);
        Assert.Equal(0, llm.RateLimited);
        Assert.True(llm.PeakWindowTokens() <= ProviderTokens, $"both entries together took {llm.PeakWindowTokens()} tokens in a window");
    }

    [Fact]
    public async Task TwoProviderEntriesWithTheirOwnKeysHaveABudgetEach()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeRateLimitedOpenAiServer.StartAsync(ProviderTokens, Window);
        var run = await RunAsync(llm, nameof(TwoProviderEntriesWithTheirOwnKeysHaveABudgetEach), "sk-key-a", "sk-key-b", limitsOnBoth: true, ct);

        Assert.Equal(2, run.KeyScopes.Count);
        Assert.Equal(new[] { AdmissionOptions.KeyScope("sk-key-a"), AdmissionOptions.KeyScope("sk-key-b") }.Order(), run.KeyScopes.Select(s => (string?)s["scope"]).Order());
        Assert.All(run.KeyScopes, s => Assert.Single(s["providers"]!.AsArray()));
        Assert.Equal(0, llm.RateLimited);
        Assert.True(llm.PeakWindowTokens(apiKey: "sk-key-a") <= ProviderTokens);
        Assert.True(llm.PeakWindowTokens(apiKey: "sk-key-b") <= ProviderTokens);
        // More than one key's budget in a window: each entry ran on its own.
        Assert.True(llm.PeakWindowTokens() > ProviderTokens, $"both entries together took only {llm.PeakWindowTokens()} tokens in a window");
    }

    /// <summary>
    /// Runs <see cref="JobsPerProvider"/> one-call jobs through each entry at once and waits for all of them; then the
    /// key scopes <c>GET /providers/limits</c> lists.
    /// </summary>
    private async Task<KeyRun> RunAsync(FakeRateLimitedOpenAiServer llm, string name, string openAiKey, string euKey, bool limitsOnBoth, CancellationToken ct)
    {
        var environment = await TestEnvironment.CreateAsync(servers, name);
        var perMinute = KeyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var entries = new Dictionary<string, string?>
        {
            ["Llm:Providers:openai:ApiKey"] = openAiKey,
            ["Llm:Providers:openai:KeyLimits:TokensPerMinute"] = perMinute,
            ["Llm:Providers:openai-eu:Kind"] = "openai",
            ["Llm:Providers:openai-eu:BaseUrl"] = llm.ApiUrl.ToString(),
            ["Llm:Providers:openai-eu:ApiKey"] = euKey,
            ["Llm:Admission:Window"] = Window.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (limitsOnBoth)
        {
            entries["Llm:Providers:openai-eu:KeyLimits:TokensPerMinute"] = perMinute;
        }

        var settings = environment.Settings(AdmissionPipelineTests.Settings(llm, entries));
        await using var api = new ApiFactory(settings);
        using var client = api.CreateAuthenticatedClient();
        using var admin = api.CreateAuthenticatedClient(admin: true);
        await using var first = await WorkerHost.StartAsync(settings, ct);
        await using var second = await WorkerHost.StartAsync(settings, ct);

        var jobs = new List<string>();
        for (var i = 0; i < JobsPerProvider; i++)
        {
            jobs.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[openai-{i}]", ct));
            jobs.Add(await AdmissionPipelineTests.SubmitAsync(client, $"[eu-{i}]", ct, "budgeted_llm_step_eu"));
        }

        foreach (var job in jobs)
        {
            Assert.Equal("completed", (string?)(await JobPolling.WaitForTerminalAsync(client, job, JobTimeout, ct))["status"]);
        }

        var limits = await admin.GetStringAsync("/api/v1/providers/limits", ct);
        Assert.DoesNotContain(openAiKey, limits, StringComparison.Ordinal);
        Assert.DoesNotContain(euKey, limits, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: {llm.AnsweredContaining("[openai-")} + {llm.AnsweredContaining("[eu-")} calls answered, {llm.RateLimited} x 429; peak tokens per " +
            $"{Window.TotalSeconds} s window: {openAiKey} {llm.PeakWindowTokens(apiKey: openAiKey)}, {euKey} {llm.PeakWindowTokens(apiKey: euKey)}, " +
            $"both {llm.PeakWindowTokens()} (key budget {KeyTokens}, the fake's {ProviderTokens} per key); first to last answer {(llm.Accepted.Max(c => c.At) - llm.Accepted.Min(c => c.At)).TotalSeconds:F1} s");
        Assert.Equal(JobsPerProvider, llm.AnsweredContaining("[openai-"));
        Assert.Equal(JobsPerProvider, llm.AnsweredContaining("[eu-"));
        var scopes = JsonNode.Parse(limits)!["scopes"]!.AsArray().Select(s => s!.AsObject());
        return new KeyRun([.. scopes.Where(s => ((string?)s["scope"])!.StartsWith(AdmissionOptions.KeyScopePrefix, StringComparison.Ordinal))]);
    }

    private sealed record KeyRun(IReadOnlyList<JsonObject> KeyScopes);
}
