using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Admission;

/// <summary>
/// <c>Llm:Providers:&lt;name&gt;:KeyLimits</c>: the scope of a provider's API key (by fingerprint) in the scopes of
/// every call through any provider using that key, and the settings' checks.
/// </summary>
[UnitTest]
public sealed class KeyBudgetSettingsTests
{
    private static readonly ModelId OpenAi = ModelId.Parse("openai/gpt-4o-mini");
    private static readonly ModelId Eu = ModelId.Parse("openai-eu/gpt-4o-mini");

    [Fact]
    public void CallsThroughTwoProvidersWithOneKeyReserveInTheSameKeyScope()
    {
        // openai-eu reads the key from its environment variable, openai from its setting: the registry resolves both.
        var options = Resolve(new()
        {
            ["openai"] = new() { ApiKey = "sk-shared", KeyLimits = new() { TokensPerMinute = 5_000 } },
            ["openai-eu"] = new() { Kind = "openai", BaseUrl = "https://eu.example/v1", ApiKeyEnvironmentVariable = "EU_KEY" },
            ["other"] = new() { BaseUrl = "https://other.example/v1", ApiKey = "sk-other" },
        }, new() { ["EU_KEY"] = "sk-shared" });
        options.Limits["openai"] = new LlmLimit { RequestsPerMinute = 10 };
        options.TenantLimits["acme"] = new LlmLimit { RequestsPerMinute = 1 };

        var viaOpenAi = options.ScopesFor(OpenAi, "acme").ToList();
        var viaEu = options.ScopesFor(Eu, "acme").ToList();

        var key = AdmissionOptions.KeyScope("sk-shared");
        Assert.Equal(["openai", key, "tenant:acme"], viaOpenAi.Select(s => s.Scope));
        // openai-eu has no limits of its own: its scope is learned from its answers' headers (null until then).
        Assert.Equal(["openai-eu", key, "tenant:acme"], viaEu.Select(s => s.Scope));
        Assert.All(viaEu[0].Limit.Values(), v => Assert.Null(v.Value));
        Assert.Equal(5_000, viaEu[1].Limit.TokensPerMinute);
        Assert.Equal(["other"], options.ScopesFor(ModelId.Parse("other/m")).Select(s => s.Scope));
        Assert.Matches("^key:[0-9a-f]{12}$", key);
        Assert.NotEqual(key, AdmissionOptions.KeyScope("sk-other"));
        var shared = Assert.Single(options.KeyScopes());
        Assert.Equal(key, shared.Scope);
        Assert.Equal(["openai", "openai-eu"], shared.Providers);
        Assert.True(new AdmissionOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void KeyScopesAreNotResyncedByAProvidersHeadersAndAreBoundFromConfiguration()
    {
        using var services = new ServiceCollection().AddLlmProviders(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Providers:openai:ApiKey"] = "sk-bound",
            ["Llm:Providers:openai:KeyLimits:ConcurrentCalls"] = "4",
        }).Build()).BuildServiceProvider();
        var options = services.GetRequiredService<IOptions<AdmissionOptions>>().Value;

        var scopes = options.ScopesFor(OpenAi).ToList();
        Assert.Equal(["openai", AdmissionOptions.KeyScope("sk-bound")], scopes.Select(s => s.Scope));
        var (scope, limit) = scopes[1];

        Assert.Equal((AdmissionOptions.KeyScope("sk-bound"), 4), (scope, limit.ConcurrentCalls));
        Assert.False(AdmissionOptions.FollowsProviderHeaders(scope));
        Assert.False(AdmissionOptions.FollowsProviderHeaders("tenant:acme"));
        Assert.True(AdmissionOptions.FollowsProviderHeaders("openai/gpt-4o-mini"));
    }

    [Fact]
    public void InvalidKeyLimitsAreRefusedNamingTheSettings()
    {
        var options = Resolve(new()
        {
            ["openai"] = new() { ApiKey = "sk-shared", KeyLimits = new() { TokensPerMinute = 5_000 } },
            ["openai-eu"] = new() { Kind = "openai", BaseUrl = "https://eu.example/v1", ApiKey = "sk-shared", KeyLimits = new() { TokensPerMinute = 6_000 } },
            ["ollama"] = new() { BaseUrl = "http://localhost:11434/v1", KeyLimits = new() { RequestsPerMinute = 5 } },
            ["gateway"] = new() { BaseUrl = "https://gw.example/v1", ApiKey = "sk-gw", KeyLimits = new() { OutputTokensPerMinute = -2 } },
        }, []);

        var problems = new AdmissionOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(
        [
            "Llm:Providers:gateway:KeyLimits:OutputTokensPerMinute must be 0 or more; got -2.",
            "Llm:Providers:ollama:KeyLimits is set, but the provider has no API key (set Llm:Providers:ollama:ApiKey or its environment variable).",
            $"Llm:Providers:openai:KeyLimits and Llm:Providers:openai-eu:KeyLimits differ, but both providers use the same API key ({AdmissionOptions.KeyScope("sk-shared")}): set the same limits, or set them on one of the two only.",
        ], problems);
        Assert.DoesNotContain(problems, p => p.Contains("sk-shared", StringComparison.Ordinal) || p.Contains("sk-gw", StringComparison.Ordinal));
    }

    /// <summary>The admission options with the keys <paramref name="providers"/> resolve to (no key from the real environment).</summary>
    private static AdmissionOptions Resolve(Dictionary<string, LlmProviderOptions> providers, Dictionary<string, string> environment)
    {
        var llm = new LlmOptions();
        foreach (var (name, provider) in providers)
        {
            llm.Providers[name] = provider;
        }

        using var registry = new LlmProviderRegistry(Options.Create(llm), name => environment.GetValueOrDefault(name));
        var options = new AdmissionOptions();
        options.UseProviderKeys(registry);
        return options;
    }
}
