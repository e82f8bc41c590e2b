using System.Globalization;
using System.Net.Http.Headers;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// What a provider's answer said is left of its limits: OpenAI's <c>x-ratelimit-remaining-requests|tokens</c>,
/// Anthropic's <c>anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining</c>, and
/// <c>retry-after</c>; and the limits themselves (<see cref="Limits"/>). Null fields were not sent.
/// </summary>
public sealed partial record RateLimitSnapshot(long? Requests, long? Tokens, long? InputTokens, long? OutputTokens, TimeSpan? RetryAfter)
{
    /// <summary>
    /// What the provider says its limits are now (OpenAI's <c>x-ratelimit-limit-requests|tokens</c>, Anthropic's
    /// <c>anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-limit</c>): a limit lower than the configured
    /// one (a key moved to a lower tier) is what the remaining counts are measured against, so the budget follows it.
    /// </summary>
    public RateLimitLimits? Limits { get; init; }

    /// <summary>
    /// When an exhausted limit (remaining 0) is whole again: OpenAI's <c>x-ratelimit-reset-requests|tokens</c>
    /// (<c>6m0s</c>, <c>1.5s</c>, <c>20ms</c>), Anthropic's <c>anthropic-ratelimit-*-reset</c> (an RFC 3339 time);
    /// the longest of the exhausted ones. A 429 without retry-after parks until then.
    /// </summary>
    public TimeSpan? ResetAfter { get; init; }

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
            ResetAfter = ExhaustedReset(headers),
        };
        return snapshot.IsEmpty ? null : snapshot;
    }

    private static TimeSpan? ExhaustedReset(HttpResponseHeaders headers)
    {
        TimeSpan? longest = null;
        foreach (var (remaining, reset) in ResetHeaders)
        {
            if (Number(headers, remaining) == 0 && headers.TryGetValues(reset, out var values) && ParseReset(values.FirstOrDefault()) is { } wait
                && (longest is null || wait > longest))
            {
                longest = wait;
            }
        }

        return longest;
    }

    private static readonly (string Remaining, string Reset)[] ResetHeaders =
    [
        ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"), ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
        ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"), ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
        ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
        ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
    ];

    /// <summary>A reset header: OpenAI's duration (<c>1h2m3s</c>, <c>6m0s</c>, <c>1.5s</c>, <c>20ms</c>) or an RFC 3339 time; null when neither.</summary>
    public static TimeSpan? ParseReset(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (value.Contains('T', StringComparison.Ordinal)
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        var total = TimeSpan.Zero;
        var matched = false;
        foreach (System.Text.RegularExpressions.Match part in DurationPart().Matches(value))
        {
            var number = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(number),
                "m" => TimeSpan.FromMinutes(number),
                "s" => TimeSpan.FromSeconds(number),
                _ => TimeSpan.FromMilliseconds(number),
            };
            matched = true;
        }

        return matched ? total : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex DurationPart();

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
