using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using LlmWorkflow.Engine.Network;
using LlmWorkflow.Storage.Webhooks;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// Sends one webhook attempt over the IHttpClientFactory client <see cref="HttpClientName"/>, which has no
/// resilience handler: the retry schedule (5/15/45 s, recorded in Postgres) is the only one. Connections go through <see cref="GuardedConnector"/>; redirects are not followed;
/// the attempt is bounded by <see cref="WebhookOptions.Timeout"/>; only the first bytes of the answer are kept.
/// </summary>
internal sealed class WebhookSender : IDisposable
{
    /// <summary><c>LlmWorkflow/&lt;version&gt;</c>, sent as User-Agent.</summary>
    public static readonly string UserAgent =
        $"LlmWorkflow/{typeof(WebhookSender).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0"}";

    /// <summary>The IHttpClientFactory name of the deliveries' client; it gets no resilience handler.</summary>
    public const string HttpClientName = "webhooks";

    private readonly HttpClient _client;
    private readonly WebhookOptions _options;

    /// <param name="client">The factory's <see cref="HttpClientName"/> client, over <see cref="CreateTransport"/>.</param>
    public WebhookSender(HttpClient client, IOptions<WebhookOptions> options)
    {
        _options = options.Value;
        _client = client;
        _client.Timeout = Timeout.InfiniteTimeSpan;
    }

    /// <summary>Connections go through <see cref="GuardedConnector"/>; no redirects, no cookies.</summary>
    public static SocketsHttpHandler CreateTransport(WebhookOptions options)
    {
        var allowPrivate = options.AllowPrivateNetworks;
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = (context, cancellationToken) => GuardedConnector.ConnectAsync(context.DnsEndPoint, allowPrivate, cancellationToken),
        };
    }

    public async Task<WebhookSendResult> SendAsync(WebhookRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Url) { Content = new ReadOnlyMemoryContent(request.Body) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var timestamp = request.Timestamp.ToUnixTimeSeconds();
        var headers = message.Headers;
        headers.TryAddWithoutValidation("User-Agent", UserAgent);
        headers.Add("X-Webhook-Event", request.EventType);
        headers.Add("X-Webhook-Signature", WebhookSignatures.Legacy(request.Secrets[0], request.Body.Span));
        headers.Add("webhook-id", request.EventId);
        headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        headers.Add("webhook-signature", WebhookSignatures.Standard(request.Secrets, request.EventId, timestamp, request.Body.Span));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var body = await ReadCappedAsync(response.Content, timeout.Token);
            var status = (int)response.StatusCode;
            var duration = ElapsedMs(started);
            return status switch
            {
                >= 200 and < 300 => new(WebhookSendOutcome.Delivered, status, body, null, duration),
                410 => new(WebhookSendOutcome.Gone, status, body, "The receiver answered 410 Gone; this event is not retried.", duration),
                >= 300 and < 400 => new(WebhookSendOutcome.RetryableFailure, status, body,
                    $"Redirects are not followed (Location: {response.Headers.Location?.ToString() ?? "none"}); configure the final URL.", duration),
                429 or >= 500 => new(WebhookSendOutcome.RetryableFailure, status, body, $"HTTP {status}.", duration, RetryAfter(response)),
                _ => new(WebhookSendOutcome.RetryableFailure, status, body, $"HTTP {status}.", duration),
            };
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new(WebhookSendOutcome.RetryableFailure, null, null, $"Timed out after {_options.Timeout.TotalSeconds:0.###} s.", ElapsedMs(started));
        }
        catch (HttpRequestException ex) when (FindBlocked(ex) is { } blocked)
        {
            return new(WebhookSendOutcome.PermanentFailure, null, null, blocked.Message, ElapsedMs(started));
        }
        catch (HttpRequestException ex)
        {
            return new(WebhookSendOutcome.RetryableFailure, null, null, ex.Message, ElapsedMs(started));
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task<string?> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[_options.MaxResponseBodyBytes + 1];
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            return null;
        }

        // One byte more than the cap tells whether the answer was longer than what is stored.
        return read > _options.MaxResponseBodyBytes
            ? Encoding.UTF8.GetString(buffer, 0, _options.MaxResponseBodyBytes) + " [truncated]"
            : Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static WebhookDestinationBlockedException? FindBlocked(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is WebhookDestinationBlockedException blocked)
            {
                return blocked;
            }
        }

        return null;
    }

    private static int ElapsedMs(long started) => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}

/// <summary>One signed POST to send: the exact body bytes, the event identity and the secrets to sign with (current first).</summary>
internal sealed record WebhookRequest(
    string Url,
    string EventId,
    string EventType,
    ReadOnlyMemory<byte> Body,
    IReadOnlyList<string> Secrets,
    DateTimeOffset Timestamp);

/// <summary>The record of one HTTP attempt: what the receiver answered (or why nothing was sent) and how long it took.</summary>
internal sealed record WebhookSendResult(
    WebhookSendOutcome Outcome,
    int? HttpStatus,
    string? ResponseBody,
    string? Error,
    int DurationMs,
    TimeSpan? RetryAfter = null)
{
    public static WebhookSendResult NotSent(string error) => new(WebhookSendOutcome.PermanentFailure, null, null, error, 0);
}

/// <summary>How one delivery attempt ended, which decides the attempt's state and whether to retry.</summary>
internal enum WebhookSendOutcome
{
    /// <summary>2xx.</summary>
    Delivered,

    /// <summary>410: the receiver asks not to send this event again.</summary>
    Gone,

    /// <summary>Network error, timeout, 3xx, 4xx, 5xx: retried on the schedule.</summary>
    RetryableFailure,

    /// <summary>Retrying cannot help (no signing secret, blocked destination): dead-lettered at once, replayable.</summary>
    PermanentFailure,
}

/// <summary>
/// The two signature schemes sent on every delivery, both over the exact body bytes:
/// the documents' <c>X-Webhook-Signature: sha256=&lt;hex&gt;</c> and Standard Webhooks' <c>webhook-signature: v1,&lt;base64&gt;</c>.
/// </summary>
internal static class WebhookSignatures
{
    /// <summary>Prefix of Standard Webhooks secrets; the rest is the base64 of the key bytes.</summary>
    public const string StandardSecretPrefix = "whsec_";

    /// <summary><c>sha256=</c> + lowercase hex HMAC-SHA256 of the body, keyed by the secret's UTF-8 bytes (what the documents' receivers check).</summary>
    public static string Legacy(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>
    /// Standard Webhooks: <c>v1,</c> + base64 HMAC-SHA256 of <c>"{id}.{timestamp}.{body}"</c>, one per secret, space-separated
    /// (several during a rotation, so receivers holding either secret accept the delivery).
    /// </summary>
    public static string Standard(IEnumerable<string> secrets, string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));

        var signatures = new List<string>();
        foreach (var secret in secrets)
        {
            signatures.Add("v1," + Convert.ToBase64String(HMACSHA256.HashData(StandardKey(secret), content)));
        }

        return string.Join(' ', signatures);
    }

    /// <summary>The HMAC key of a secret: the decoded bytes of <c>whsec_&lt;base64&gt;</c>, otherwise the secret's UTF-8 bytes.</summary>
    public static byte[] StandardKey(string secret)
    {
        if (secret.StartsWith(StandardSecretPrefix, StringComparison.Ordinal))
        {
            var encoded = secret[StandardSecretPrefix.Length..];
            var buffer = new byte[encoded.Length];
            if (Convert.TryFromBase64String(encoded, buffer, out var written) && written > 0)
            {
                return buffer[..written];
            }
        }

        return Encoding.UTF8.GetBytes(secret);
    }
}
