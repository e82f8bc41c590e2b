using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Admission;

/// <summary>Prompt tokens by the model's tokenizer (or about four characters a token), and the settings' checks.</summary>
[UnitTest]
public sealed class AdmissionEstimateTests
{
    [Fact]
    public void AnOpenAiModelsPromptIsCountedWithItsTokenizerAndAnUnknownModelsByCharacters()
    {
        ChatMessage[] messages = [new(ChatRole.User, "Hello world")];
        var framing = PromptTokenCounter.TokensPerReply + PromptTokenCounter.TokensPerMessage;

        // o200k_base (gpt-4o) and cl100k_base (gpt-4) both count "Hello world" as 2 tokens.
        Assert.Equal(framing + 2, PromptTokenCounter.Count(ModelId.Parse("openai/gpt-4o-mini"), messages));
        Assert.Equal(framing + 2, PromptTokenCounter.Count(ModelId.Parse("openrouter/openai/gpt-4"), messages));
        Assert.NotNull(PromptTokenCounter.TokenizerFor("gpt-4o"));
        Assert.Null(PromptTokenCounter.TokenizerFor("claude-3-5-haiku"));
        Assert.Equal(framing + 3, PromptTokenCounter.Count(ModelId.Parse("anthropic/claude-3-5-haiku"), messages));
    }

    [Fact]
    public void AHighPriorityCallsKeyIsTheSameWhenItsJobAsksAgainAndDiffersForAnotherCall()
    {
        var model = ModelId.Parse("openai/gpt-4o-mini");
        LlmCallRequest Call(string prompt, string step = "answer") =>
            new([model.ToString()], [new(ChatRole.User, prompt)], WorkflowName: "support", StepId: step, Priority: 9);
        var key = LlmAdmission.CallKeyOf(model, Call("Where is my order?"), "acme", "u1");

        // A parked step asks again with a new lease and the same rendered prompt: the same record.
        Assert.Equal(key, LlmAdmission.CallKeyOf(model, Call("Where is my order?"), "acme", "u1"));
        Assert.NotEqual(key, LlmAdmission.CallKeyOf(model, Call("Where is my parcel?"), "acme", "u1"));
        Assert.NotEqual(key, LlmAdmission.CallKeyOf(model, Call("Where is my order?", "summary"), "acme", "u1"));
        Assert.NotEqual(key, LlmAdmission.CallKeyOf(model, Call("Where is my order?"), "acme", "u2"));
        // Parts do not run into each other: tenant "acme" and user "u1" is not tenant "acmeu" and user "1".
        Assert.NotEqual(key, LlmAdmission.CallKeyOf(model, Call("Where is my order?"), "acmeu", "1"));
    }

    [Fact]
    public void InvalidLimitsAreRefusedNamingTheSetting()
    {
        var options = new AdmissionOptions
        {
            Limits = new(StringComparer.OrdinalIgnoreCase)
            {
                ["openai"] = new LlmLimit { TokensPerMinute = -5 },
                ["openai/"] = new LlmLimit { RequestsPerMinute = 1 },
            },
            Admission = new AdmissionSettings { Window = TimeSpan.Zero },
        };

        var problems = new AdmissionOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains("Llm:Limits:openai:TokensPerMinute must be 0 or more; got -5.", problems);
        Assert.Contains(problems, p => p.StartsWith("Llm:Limits:openai/: the name must be", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Llm:Admission:Window must be", StringComparison.Ordinal));
        Assert.True(new AdmissionOptionsValidator().Validate(null, new AdmissionOptions()).Succeeded);
    }

    [Fact]
    public void TheLimitsOfAModelAreItsProvidersAndItsOwn()
    {
        var options = new AdmissionOptions
        {
            Limits = new(StringComparer.OrdinalIgnoreCase)
            {
                ["openai"] = new LlmLimit { TokensPerMinute = 1 },
                ["openai/gpt-4o"] = new LlmLimit { TokensPerMinute = 2 },
            },
        };

        Assert.Equal(["openai", "openai/gpt-4o"], options.ScopesFor(ModelId.Parse("openai/gpt-4o")).Select(s => s.Scope));
        Assert.Equal(["openai"], options.ScopesFor(ModelId.Parse("openai/gpt-4o-mini")).Select(s => s.Scope));
        Assert.Empty(options.ScopesFor(ModelId.Parse("anthropic/claude-3-5-haiku")));
    }

    [Fact]
    public void ATenantsPerUserLimitsGiveEachUserAScopeOfTheirOwnBoundFromConfiguration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Limits:openai:TokensPerMinute"] = "1000",
            ["Tenants:acme:Limits:RequestsPerMinute"] = "60",
            ["Tenants:acme:PerUserLimits:RequestsPerMinute"] = "5",
            ["Tenants:acme:PerUserLimits:ConcurrentCalls"] = "1",
            ["Tenants:beta:MaxConcurrentJobs"] = "4",
        }).Build();
        using var provider = new ServiceCollection().AddLlmProviders(configuration).BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<AdmissionOptions>>().Value;
        var model = ModelId.Parse("openai/gpt-4o-mini");

        var scopes = options.ScopesFor(model, "acme", "ana maría/1").ToList();

        Assert.Equal(["openai", "tenant:acme", "tenant:acme:user:ana%20mar%C3%ADa%2F1"], scopes.Select(s => s.Scope));
        Assert.Equal(5, scopes[2].Limit.RequestsPerMinute);
        Assert.Equal(1, scopes[2].Limit.ConcurrentCalls);
        Assert.Equal(["openai", "tenant:acme"], options.ScopesFor(model, "acme").Select(s => s.Scope));
        Assert.Equal(["openai"], options.ScopesFor(model, "beta", "ana").Select(s => s.Scope));
        Assert.True(AdmissionOptions.IsTenantScope(scopes[2].Scope));
        // Metrics are tagged by the tenant only for a user's scope: a user id per series would grow without bound.
        Assert.Equal(["openai", "tenant:acme", "tenant:acme:user"], scopes.Select(s => (string?)AdmissionMetrics.Scope(s.Scope).Value));
    }

    [Fact]
    public void ANegativePerUserLimitIsRefusedNamingTheSetting()
    {
        var options = new AdmissionOptions { PerUserLimits = { ["acme"] = new LlmLimit { TokensPerMinute = -1 } } };

        var problems = new AdmissionOptionsValidator().Validate(null, options).Failures!;

        Assert.Contains("Tenants:acme:PerUserLimits:TokensPerMinute must be 0 or more; got -1.", problems);
    }

    [Fact]
    public void ATenantsWeightIsBoundFromConfigurationAndDefaultsToOne()
    {
        using var provider = Bind(new() { ["Tenants:acme:Weight"] = "2.5", ["Tenants:beta:MaxConcurrentJobs"] = "4" });
        var options = provider.GetRequiredService<IOptions<AdmissionOptions>>().Value;

        Assert.Equal(2.5, options.WeightOf("acme"));
        Assert.Equal(1, options.WeightOf("beta"));
        Assert.Equal(1, options.WeightOf(null));
    }

    [Fact]
    public void AnInvalidWeightRefusesTheStartNamingTheSetting()
    {
        using var provider = Bind(new() { ["Tenants:zero:Weight"] = "0", ["Tenants:huge:Weight"] = "1001", ["Tenants:word:Weight"] = "heavy", ["Tenants:ok:Weight"] = "1000" });

        var refused = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AdmissionOptions>>().Value);

        Assert.Equal(
            ["Tenants:huge:Weight must be a number above 0 and at most 1000; got '1001'.", "Tenants:word:Weight must be a number above 0 and at most 1000; got 'heavy'.",
             "Tenants:zero:Weight must be a number above 0 and at most 1000; got '0'."],
            refused.Failures.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AUsersWeightIsBoundFromConfigurationAndDefaultsToOne()
    {
        using var provider = Bind(new() { ["Tenants:acme:UserWeights:ana"] = "3", ["Tenants:acme:UserWeights:bo"] = "0.5", ["Tenants:beta:Weight"] = "2" });
        var options = provider.GetRequiredService<IOptions<AdmissionOptions>>().Value;

        Assert.Equal(3, options.UserWeightOf("acme", "ana"));
        Assert.Equal(0.5, options.UserWeightOf("acme", "bo"));
        Assert.Equal(1, options.UserWeightOf("acme", "cy"));
        Assert.Equal(1, options.UserWeightOf("acme", AdmissionOptions.NoUser));
        // A user's weight is its tenant's users' business: the same id in another tenant weighs 1.
        Assert.Equal(1, options.UserWeightOf("beta", "ana"));
    }

    [Fact]
    public void AnInvalidUserWeightRefusesTheStartNamingTheSetting()
    {
        using var provider = Bind(new()
        {
            ["Tenants:acme:UserWeights:zero"] = "0", ["Tenants:acme:UserWeights:huge"] = "1000.5", ["Tenants:beta:UserWeights:word"] = "lots",
            ["Tenants:beta:UserWeights:ok"] = "1000", ["Tenants:beta:UserWeights:nested:x"] = "1",
        });

        var refused = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AdmissionOptions>>().Value);

        Assert.Equal(
            ["Tenants:acme:UserWeights:huge must be a number above 0 and at most 1000; got '1000.5'.",
             "Tenants:acme:UserWeights:zero must be a number above 0 and at most 1000; got '0'.",
             "Tenants:beta:UserWeights:nested must be a number above 0 and at most 1000; got ''.",
             "Tenants:beta:UserWeights:word must be a number above 0 and at most 1000; got 'lots'."],
            refused.Failures.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AJobsUserAndItsWeightAreWhoReservesInTheFairShares()
    {
        using var provider = Bind(new() { ["Llm:Limits:openai:TokensPerMinute"] = "1000", ["Tenants:acme:Weight"] = "2", ["Tenants:acme:UserWeights:ana"] = "3" });
        var store = new RecordingStore();
        var admission = new LlmAdmission(provider.GetRequiredService<IOptionsMonitor<AdmissionOptions>>(), store, new NoHistory(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<LlmAdmission>.Instance);
        var model = ModelId.Parse("openai/gpt-4o-mini");
        var ct = TestContext.Current.CancellationToken;

        await admission.AdmitAsync(model, new LlmCallRequest([model.ToString()], [new(ChatRole.User, "hi")], TenantId: "acme", UserId: "ana"), ct);
        await admission.AdmitAsync(model, new LlmCallRequest([model.ToString()], [new(ChatRole.User, "hi")], TenantId: "acme"), ct);

        Assert.Equal([new FairShare("acme", 2, "ana", 3), new FairShare("acme", 2, AdmissionOptions.NoUser, 1)], store.FairShares);
    }

    private sealed class RecordingStore : IAdmissionStore
    {
        public List<FairShare?> FairShares { get; } = [];

        public Task<AdmissionVerdict> ReserveAsync(string leaseId, IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, AdmissionAmounts amounts, AdmissionSettings settings, string? provider = null, FairShare? fairShare = null,
            TimeSpan? outageProbeTimeout = null)
        {
            FairShares.Add(fairShare);
            return Task.FromResult(AdmissionVerdict.Reserved);
        }

        public Task ReconcileAsync(string leaseId, IReadOnlyList<string> scopes, AdmissionAmounts used, AdmissionSettings settings) => Task.CompletedTask;

        public Task<bool> ReleaseAsync(string leaseId, IReadOnlyList<string> scopes) => Task.FromResult(false);

        public Task ShrinkAsync(IReadOnlyList<(string Scope, LlmLimit Limit)> scopes, RateLimitSnapshot snapshot, TimeSpan? blockedFor, AdmissionSettings settings) => Task.CompletedTask;

        public Task SetPausedAsync(string provider, bool paused) => Task.CompletedTask;

        public Task<bool> IsPausedAsync(string provider) => Task.FromResult(false);

        public Task<AdmissionUsage> UsageAsync(string scope, AdmissionSettings settings) => Task.FromResult(new AdmissionUsage(0, 0, 0, 0, false, 0));
    }

    private sealed class NoHistory : IOutputTokenHistory
    {
        public ValueTask<int?> P95Async(string workflowName, string stepId, string model, CancellationToken cancellationToken) => ValueTask.FromResult<int?>(null);
    }

    private static ServiceProvider Bind(Dictionary<string, string?> settings) =>
        new ServiceCollection().AddLlmProviders(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).BuildServiceProvider();
}
