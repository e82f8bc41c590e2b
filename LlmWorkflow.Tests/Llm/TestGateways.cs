using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Tests.Llm;

/// <summary>Builds gateways over fake servers with short retry delays and a private environment.</summary>
internal static class TestGateways
{
    public static readonly PriceTable Prices = PriceTable.Load(new PricingOptions());

    public static LlmOptions Options(params (string Name, LlmProviderOptions Provider)[] providers)
    {
        var options = new LlmOptions
        {
            Retry = new LlmRetryOptions { MaxAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(20), UseJitter = false },
            AttemptTimeout = TimeSpan.FromSeconds(10),
        };
        foreach (var (name, provider) in providers)
        {
            options.Providers[name] = provider;
        }

        return options;
    }

    public static LlmGateway Create(
        LlmOptions options,
        IReadOnlyDictionary<string, string>? environment = null,
        IResponseCache? cache = null,
        IPriceTable? prices = null,
        HttpMessageHandler? transport = null)
    {
        var registry = new LlmProviderRegistry(
            Microsoft.Extensions.Options.Options.Create(options),
            name => environment?.GetValueOrDefault(name),
            transport);
        return new LlmGateway(
            registry,
            prices ?? Prices,
            cache ?? new MemoryResponseCache(new MemoryCache(new MemoryCacheOptions())),
            NullLogger<LlmGateway>.Instance);
    }

    public static LlmCallRequest Ask(string model, string prompt = "Say hello", bool stream = false, Action<string>? onDelta = null) =>
        new([model], [new ChatMessage(ChatRole.System, "You are terse."), new ChatMessage(ChatRole.User, prompt)], Stream: stream, OnDelta: onDelta);
}
