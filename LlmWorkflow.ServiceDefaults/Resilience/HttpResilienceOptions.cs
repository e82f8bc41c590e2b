namespace LlmWorkflow.ServiceDefaults.Resilience;

/// <summary>
/// The standard HTTP resilience pipeline's settings, bound from the <c>HttpResilience</c> configuration section and
/// overridable per named client (<c>services.Configure&lt;HttpResilienceOptions&gt;("client-name", ...)</c>).
/// </summary>
public sealed class HttpResilienceOptions
{
    /// <summary>The configuration section the defaults are bound from.</summary>
    public const string SectionName = "HttpResilience";

    /// <summary>Upper bound for one call, all retries and delays included.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound for a single attempt.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt; 0 turns retrying off.</summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The first retry's delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest <c>Retry-After</c> honoured; a server asking for longer fails the call instead.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Also retry POST and PATCH. Off by default: repeating them may repeat their effect.</summary>
    public bool RetryNonIdempotentRequests { get; set; }

    /// <summary>Share of failed attempts within <see cref="CircuitSamplingDuration"/> that opens the circuit.</summary>
    public double CircuitFailureRatio { get; set; } = 0.5;

    /// <summary>Attempts needed in the sampling window before the failure ratio counts.</summary>
    public int CircuitMinimumThroughput { get; set; } = 20;

    /// <summary>The window over which failures are counted.</summary>
    public TimeSpan CircuitSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open circuit rejects calls before letting one through to test the server.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}
