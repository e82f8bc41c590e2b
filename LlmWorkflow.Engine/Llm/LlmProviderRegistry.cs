using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using LlmWorkflow.Engine.Execution;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Maps provider names to settings and <c>provider/model</c> ids to <see cref="IChatClient"/>s (one per model,
/// created once). All SDK clients share one HttpClient whose <see cref="ProviderErrorHandler"/> classifies failures.
/// In the services that client comes from IHttpClientFactory (<see cref="HttpClientName"/>).
/// </summary>
public sealed class LlmProviderRegistry : IDisposable
{
    private static readonly Dictionary<string, (ProviderKind Kind, string BaseUrl, string EnvironmentVariable)> BuiltIn =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["openai"] = (ProviderKind.OpenAi, "https://api.openai.com/v1", "OPENAI_API_KEY"),
            ["openrouter"] = (ProviderKind.OpenRouter, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
            ["anthropic"] = (ProviderKind.Anthropic, "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
        };

    private readonly LlmOptions _options;
    private readonly Func<string, string?> _environment;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly MockChatClient _mock;
    private readonly ConcurrentDictionary<string, ResolvedProvider?> _providers = new(StringComparer.OrdinalIgnoreCase);
    // Lazy: GetOrAdd alone runs the factory once per concurrent caller, so a burst of first calls built a client each.
    private readonly ConcurrentDictionary<string, Lazy<IChatClient>> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<IChatClient>> _wrapped = new(StringComparer.Ordinal);

    /// <summary>
    /// The middleware each provider's client is wrapped in, outermost first: what the capabilities a host adds put
    /// between the gateway and the provider (admission's budgets, <c>AdmissionMiddleware</c>). None unless registered.
    /// </summary>
    public IReadOnlyList<IProviderClientMiddleware> Middleware { get; init; } = [];

    /// <summary>Calls providers over its own handler chain (as <c>AddLlmProviders</c> registers it); for benchmarks and tests.</summary>
    /// <param name="environment">Reads environment variables; tests pass their own.</param>
    /// <param name="transport">Innermost HTTP handler; defaults to <see cref="CreateTransport"/>.</param>
    public LlmProviderRegistry(IOptions<LlmOptions> options, Func<string, string?>? environment = null, HttpMessageHandler? transport = null)
        : this(options, new HttpClient(new ProviderErrorHandler(new PreferHttp2Handler(transport ?? CreateTransport()), options.Value.MaxAnswerBytes)), environment)
    {
        _ownsHttp = true;
    }

    /// <summary>Calls providers over <paramref name="http"/>: the factory's <see cref="HttpClientName"/> client in the services.</summary>
    public LlmProviderRegistry(IOptions<LlmOptions> options, HttpClient http, Func<string, string?>? environment = null)
    {
        _options = options.Value;
        _environment = environment ?? Environment.GetEnvironmentVariable;
        _http = http;
        // Attempt timeouts are the gateway's job (per attempt, with cancellation), not HttpClient's.
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _mock = new MockChatClient(_options.Mock, new MockResponseStore(_options.Mock));
    }

    /// <summary>The IHttpClientFactory name of the provider calls' client (the hosts add its resilience handler).</summary>
    public const string HttpClientName = "llm-providers";

    public LlmOptions Options => _options;

    /// <summary>The providers' HTTP client (failures leave it as <see cref="ProviderHttpException"/>), for the Batch API calls.</summary>
    internal HttpClient Http => _http;

    /// <summary>The default innermost handler of provider calls.</summary>
    internal static SocketsHttpHandler CreateTransport() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        // An HTTP/2 connection carries at most the provider's stream limit (often 100) of concurrent calls: past it,
        // open another connection rather than queue calls behind the others.
        EnableMultipleHttp2Connections = true,
    };

    /// <summary>The provider's settings, or null when the name is neither built in nor configured.</summary>
    public ResolvedProvider? Find(string provider) => _providers.GetOrAdd(provider, Resolve);

    /// <summary>The missing-key message when <paramref name="model"/>'s provider is known but has no key, or null.</summary>
    public string? MissingKey(ModelId model) =>
        !_options.Mock.ServeAllModels && Find(model.Provider) is { HasUsableKey: false } provider ? MissingKeyMessage(provider) : null;

    /// <summary>What stops <paramref name="model"/> from being called (unknown provider, missing key), or null.</summary>
    public string? Problem(ModelId model)
    {
        if (_options.Mock.ServeAllModels)
        {
            return null;
        }

        var provider = Find(model.Provider);
        if (provider is null)
        {
            return $"Unknown LLM provider '{model.Provider}' in model '{model}'. Known: {string.Join(", ", KnownProviders())}; "
                + $"configure others under Llm:Providers:{model.Provider}:BaseUrl.";
        }

        return provider.HasUsableKey ? null : MissingKeyMessage(provider);
    }

    /// <summary>The client for one model; throws a CONFIG_ERROR for unknown providers and missing keys.</summary>
    public IChatClient GetClient(ModelId model)
    {
        if (Problem(model) is { } problem)
        {
            throw Find(model.Provider) is { } provider
                ? WorkflowException.Config("missing_api_key", problem, $"Set {provider.ApiKeySource} in the environment of the API and workers.")
                : WorkflowException.Config("unknown_provider", problem);
        }

        if (_options.Mock.ServeAllModels || model.Provider == "mock")
        {
            return Decorated(WithMiddleware(_mock, model));
        }

        var resolved = Find(model.Provider)!;
        var baseUrl = resolved.BaseUrl ?? throw WorkflowException.Config(
            "missing_base_url", $"LLM provider '{resolved.Name}' has no base URL: set Llm:Providers:{resolved.Name}:BaseUrl.");
        return Decorated(WithMiddleware(_clients.GetOrAdd(model.ToString(), _ => new(() => Create(resolved, baseUrl, model.Model))).Value, model));
    }

    private IChatClient WithMiddleware(IChatClient client, ModelId model) => Middleware.Count == 0 ? client
        : _wrapped.GetOrAdd(model.ToString(), _ => new(() =>
        {
            var provider = Find(model.Provider);
            return Middleware.Reverse().Aggregate(client, (inner, middleware) => middleware.Wrap(inner, model, provider));
        })).Value;

    /// <summary>
    /// Set by a capability for the calls on its own async flow (the agent step offers its tools through it, see
    /// Agents/AgentToolCalling.cs): wraps each client those calls get in its middleware. Null — every other call — leaves
    /// the clients as they are.
    /// </summary>
    public static AsyncLocal<Func<IChatClient, IChatClient>?> ClientDecorator { get; } = new();

    private static IChatClient Decorated(IChatClient client) => ClientDecorator.Value is { } decorate ? decorate(client) : client;

    public IEnumerable<string> KnownProviders() =>
        BuiltIn.Keys.Append("mock").Concat(_options.Providers.Keys).Distinct(StringComparer.OrdinalIgnoreCase);

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private ResolvedProvider? Resolve(string name)
    {
        _options.Providers.TryGetValue(name, out var configured);
        var hasBuiltIn = BuiltIn.TryGetValue(name, out var builtIn);
        if (name.Equals("mock", StringComparison.OrdinalIgnoreCase))
        {
            return new ResolvedProvider("mock", ProviderKind.Mock, null, null, "none", false, configured ?? new());
        }

        if (configured is null && !hasBuiltIn)
        {
            return null;
        }

        configured ??= new LlmProviderOptions();
        var kind = configured.Kind?.ToLowerInvariant() switch
        {
            null => hasBuiltIn ? builtIn.Kind : ProviderKind.OpenAiCompatible,
            "openai" => ProviderKind.OpenAi,
            "openrouter" => ProviderKind.OpenRouter,
            "anthropic" => ProviderKind.Anthropic,
            "mock" => ProviderKind.Mock,
            _ => ProviderKind.OpenAiCompatible,
        };
        var environmentVariable = configured.ApiKeyEnvironmentVariable
            ?? (hasBuiltIn ? builtIn.EnvironmentVariable : name.ToUpperInvariant().Replace('-', '_') + "_API_KEY");
        var key = string.IsNullOrWhiteSpace(configured.ApiKey) ? _environment(environmentVariable) : configured.ApiKey;
        var baseUrl = configured.BaseUrl ?? (hasBuiltIn ? builtIn.BaseUrl : null);
        return new ResolvedProvider(
            name.ToLowerInvariant(),
            kind,
            baseUrl is null ? null : new Uri(baseUrl.TrimEnd('/') + "/"),
            string.IsNullOrWhiteSpace(key) ? null : key,
            $"{environmentVariable} (or Llm:Providers:{name}:ApiKey)",
            configured.RequiresApiKey ?? kind is ProviderKind.OpenAi or ProviderKind.OpenRouter or ProviderKind.Anthropic,
            configured);
    }

    private static string MissingKeyMessage(ResolvedProvider provider) =>
        $"Missing API key for LLM provider '{provider.Name}': set {provider.ApiKeySource}.";

    private IChatClient Create(ResolvedProvider provider, Uri baseUrl, string model) =>
        provider.Kind == ProviderKind.Anthropic
            ? AnthropicClients.Create(provider, baseUrl, model, _http, _options.AttemptTimeout)
            : CreateOpenAiCompatible(provider, baseUrl, model);

    private OpenAiCompatibleChatClient CreateOpenAiCompatible(ResolvedProvider provider, Uri baseUrl, string model)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = baseUrl,
            Transport = new HttpClientPipelineTransport(_http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // The gateway's per-attempt timeout is the real limit; a flex attempt may take Llm:Flex:AttemptTimeout.
            NetworkTimeout = (provider.SupportsFlex ? TimeSpan.FromTicks(Math.Max(_options.AttemptTimeout.Ticks, _options.Flex.AttemptTimeout.Ticks)) : _options.AttemptTimeout)
                + TimeSpan.FromSeconds(30),
        };
        var headers = new Dictionary<string, string>(provider.Options.Headers, StringComparer.OrdinalIgnoreCase);
        if (provider.Kind == ProviderKind.OpenRouter)
        {
            if (provider.Options.Referer is { } referer)
            {
                headers["HTTP-Referer"] = referer;
            }

            if (provider.Options.Title is { } title)
            {
                headers["X-Title"] = title;
            }
        }

        if (headers.Count > 0)
        {
            clientOptions.AddPolicy(new ExtraHeadersPolicy(headers), PipelinePosition.PerCall);
        }

        clientOptions.AddPolicy(new RequestBodyCopyPolicy(), PipelinePosition.PerCall);

        // Keyless local servers (Ollama) ignore the bearer token, but the SDK insists on a credential.
        var chatClient = new ChatClient(model, new ApiKeyCredential(provider.ApiKey ?? "no-key"), clientOptions);
        var dialect = provider.Kind switch
        {
            ProviderKind.OpenAi => OpenAiDialect.OpenAi,
            ProviderKind.OpenRouter => OpenAiDialect.OpenRouter,
            _ => OpenAiDialect.Compatible,
        };
        return new OpenAiCompatibleChatClient(chatClient, dialect, new ChatClientMetadata(provider.Name, baseUrl, model));
    }
}

/// <summary>A capability's chat-client middleware around each provider's client (a <see cref="DelegatingChatClient"/>).</summary>
public interface IProviderClientMiddleware
{
    IChatClient Wrap(IChatClient client, ModelId model, ResolvedProvider? provider);
}
