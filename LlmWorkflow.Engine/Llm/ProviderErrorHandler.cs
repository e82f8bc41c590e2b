using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Turns non-success provider responses into <see cref="ProviderHttpException"/> (status, redacted message,
/// Retry-After) before the SDK sees them, so the gateway classifies OpenAI, OpenRouter and Anthropic alike.
/// Successful answers are read through <see cref="AnswerGuard"/> (size limit, invalid UTF-8 replaced).
/// </summary>
internal sealed class ProviderErrorHandler : DelegatingHandler
{
    private const int MaxMessageLength = 500;
    private readonly long _maxAnswerBytes;

    /// <summary>For IHttpClientFactory, which links the handlers itself.</summary>
    public ProviderErrorHandler(long maxAnswerBytes)
    {
        _maxAnswerBytes = maxAnswerBytes;
    }

    public ProviderErrorHandler(HttpMessageHandler inner, long maxAnswerBytes = 16L * 1024 * 1024) : base(inner)
    {
        _maxAnswerBytes = maxAnswerBytes;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            try
            {
                AnswerGuard.Apply(response, _maxAnswerBytes);
            }
            catch (AnswerTooLargeException)
            {
                response.Dispose();
                throw;
            }

            return response;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var secrets = request.Headers.Authorization?.Parameter is { } bearer ? [bearer, .. ApiKeyHeaders(request)] : ApiKeyHeaders(request);
            var message = SecretRedactor.Redact(ExtractMessage(body, response.ReasonPhrase), secrets);
            throw new ProviderHttpException(response.StatusCode, Truncate(message), RetryAfter(response.Headers), ExtractCode(body));
        }
    }

    /// <summary>Reads Retry-After (seconds or HTTP date) and the millisecond variant some providers send.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        if (headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis))
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        return headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };
    }

    private static string[] ApiKeyHeaders(HttpRequestMessage request) =>
        request.Headers.TryGetValues("x-api-key", out var values) ? [.. values] : [];

    private static string ExtractMessage(string body, string? reason)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString() ?? string.Empty;
                }

                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message))
                {
                    return message.GetString() ?? string.Empty;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, plain text): use the text itself.
        }

        return string.IsNullOrWhiteSpace(body) ? reason ?? "no message" : body;
    }

    /// <summary>
    /// The error's machine-readable code: what tells a 429 of the key's rate limit (<c>rate_limit_exceeded</c>) from
    /// one of flex capacity. Only short word-like values are kept, so a body never smuggles text into logs through it.
    /// </summary>
    internal static string? ExtractCode(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.Object)
            {
                var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                    : error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                    : null;
                return code is { Length: > 0 and <= 64 } && code.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.') ? code : null;
            }
        }
        catch (JsonException)
        {
            // Not JSON: no code.
        }

        return null;
    }

    private static string Truncate(string text) => text.Length <= MaxMessageLength ? text : text[..MaxMessageLength] + "…";
}
