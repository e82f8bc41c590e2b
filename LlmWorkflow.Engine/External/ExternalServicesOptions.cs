namespace LlmWorkflow.Engine.External;

/// <summary>Configuration section <c>External</c>: services, caching, rate limits, retries and the http allow-list.</summary>
public sealed class ExternalServicesOptions
{
    public const string SectionName = "External";

    /// <summary>Per service (<c>External:Services:weatherapi:BaseUrl</c>, <c>…:ApiKey</c>, <c>…:CacheTtl</c>, <c>…:RateLimit</c>).</summary>
    public Dictionary<string, ExternalServiceOptions> Services { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public HttpServiceOptions Http { get; set; } = new();

    /// <summary>Limit for one HTTP attempt.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Attempts per call (first included) on timeouts, 429 and 5xx, with exponential backoff.</summary>
    public int MaxAttempts { get; set; } = 3;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The lifetime of cached answers of the services that cache by default (weatherapi, google_places), in place of
    /// their built-in lifetimes; a service's or operation's own CacheTtl still wins, and services that do not cache by
    /// default (http) stay uncached. Null keeps the built-in lifetimes. Document 001's <c>CACHE_DEFAULT_TTL</c> (seconds).
    /// </summary>
    public TimeSpan? DefaultCacheTtl { get; set; }

    /// <summary>Upper bound on how long the in-process level keeps an entry (Redis keeps the full TTL).</summary>
    public TimeSpan MemoryCacheMaxTtl { get; set; } = TimeSpan.FromMinutes(5);

    public ExternalServiceOptions For(string service) =>
        Services.TryGetValue(service, out var options) ? options : new ExternalServiceOptions();
}

/// <summary>One external service's settings.</summary>
public sealed class ExternalServiceOptions
{
    public string? BaseUrl { get; set; }

    /// <summary>Overrides the key from the environment variable.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Cache lifetime for all operations of the service; zero disables caching.</summary>
    public TimeSpan? CacheTtl { get; set; }

    /// <summary>Per operation (<c>External:Services:weatherapi:OperationCacheTtl:current</c>).</summary>
    public Dictionary<string, TimeSpan> OperationCacheTtl { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Token bucket shared by all workers; null = unlimited.</summary>
    public RateLimitOptions? RateLimit { get; set; }
}

/// <summary>A token bucket: <see cref="Capacity"/> calls at once, refilled at <see cref="RefillPerSecond"/>.</summary>
public sealed class RateLimitOptions
{
    public int Capacity { get; set; } = 10;

    public double RefillPerSecond { get; set; } = 10;

    /// <summary>How long a call may wait for a token before failing with a retryable EXTERNAL_ERROR.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The generic <c>http</c> service.</summary>
public sealed class HttpServiceOptions
{
    /// <summary>Hosts the workflow may call: exact names or <c>*.example.com</c>. Empty = the service is disabled.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>
    /// Let allowed hosts resolve to loopback, private, link-local (cloud metadata) and other non-public addresses.
    /// Off by default: an allowed name whose DNS points inside the network is refused at connect time.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Redirects followed per call; every hop is checked like the first URL.</summary>
    public int MaxRedirects { get; set; } = 5;
}
