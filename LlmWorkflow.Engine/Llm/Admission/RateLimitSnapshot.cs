using System.Globalization;
using System.Net.Http.Headers;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// What a provider's answer said is left of its limits: OpenAI's <c>x-ratelimit-remaining-requests|tokens</c>,
/// Anthropic's <c>anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining</c>, and
/// <c>retry-after</c>; and the limits themselves (<see cref="Limits"/>). Null fields were not sent.
/// </summary>
public sealed record RateLimitSnapshot(long? Requests, long? Tokens, long? InputTokens, long? OutputTokens, TimeSpan? RetryAfter)
{
    /// <summary>
    /// What the provider says its limits are now (OpenAI's <c>x-ratelimit-limit-requests|tokens</c>, Anthropic's
    /// <c>anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-limit</c>): a limit lower than the configured
    /// one (a key moved to a lower tier) is what the remaining counts are measured against, so the budget follows it.
    /// </summary>
    public RateLimitLimits? Limits { get; init; }

    public bool IsEmpty => Requests is null && Tokens is null && InputTokens is null && OutputTokens is null && RetryAfter is null && Limits is null;

    public static RateLimitSnapshot? From(HttpResponseHeaders headers)
    {
        var limits = new RateLimitLimits(
            Positive(headers, "x-ratelimit-limit-requests") ?? Positive(headers, "anthropic-ratelimit-requests-limit"),
            Positive(headers, "x-ratelimit-limit-tokens") ?? Positive(headers, "anthropic-ratelimit-tokens-limit"),
            Positive(headers, "anthropic-ratelimit-input-tokens-limit"),
            Positive(headers, "anthropic-ratelimit-output-tokens-limit"));
        var snapshot = new RateLimitSnapshot(
            Number(headers, "x-ratelimit-remaining-requests") ?? Number(headers, "anthropic-ratelimit-requests-remaining"),
            Number(headers, "x-ratelimit-remaining-tokens") ?? Number(headers, "anthropic-ratelimit-tokens-remaining"),
            Number(headers, "anthropic-ratelimit-input-tokens-remaining"),
            Number(headers, "anthropic-ratelimit-output-tokens-remaining"),
            ProviderErrorHandler.RetryAfter(headers))
        {
            Limits = limits.IsEmpty ? null : limits,
        };
        return snapshot.IsEmpty ? null : snapshot;
    }

    // A limit of 0 (or Azure's -1) says nothing usable about the limit: it is ignored, not followed as a zero budget.
    private static long? Positive(HttpResponseHeaders headers, string name) => Number(headers, name) is > 0 and var value ? value : null;

    private static long? Number(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : null;
}

/// <summary>The limits a provider's answer says apply now (per its own window); null fields were not sent.</summary>
public sealed record RateLimitLimits(long? Requests, long? Tokens, long? InputTokens, long? OutputTokens)
{
    public bool IsEmpty => Requests is null && Tokens is null && InputTokens is null && OutputTokens is null;
}

/// <summary>
/// Carries the rate-limit headers of the call in flight from the HTTP pipeline (<see cref="RateLimitHeaderReader"/>)
/// to the gateway, which set <see cref="Current"/> around the call (the SDKs do not hand response headers back).
/// </summary>
public sealed class RateLimitCapture
{
    private static readonly AsyncLocal<RateLimitCapture?> CurrentCapture = new();

    public static RateLimitCapture? Current
    {
        get => CurrentCapture.Value;
        set => CurrentCapture.Value = value;
    }

    /// <summary>The last answer's headers (a retried call keeps the newest).</summary>
    public RateLimitSnapshot? Last { get; set; }
}

/// <summary>Reads every provider answer's rate-limit headers (success or error) into <see cref="RateLimitCapture.Current"/>.</summary>
internal sealed class RateLimitHeaderReader : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (RateLimitCapture.Current is { } capture && RateLimitSnapshot.From(response.Headers) is { } snapshot)
        {
            capture.Last = snapshot;
        }

        return response;
    }
}
