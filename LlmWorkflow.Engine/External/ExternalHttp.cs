using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Network;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Sends one external request with a timeout and turns transport failures into classified errors (timeouts, an open
/// circuit breaker and connection failures are retryable). URLs in messages are redacted: API keys travel in query strings.
/// </summary>
public sealed class ExternalHttp(HttpClient http, TimeSpan timeout)
{
    /// <summary>The IHttpClientFactory name of the named services' client (weatherapi, google_places).</summary>
    public const string ServicesClientName = "external-services";

    /// <summary>The IHttpClientFactory name of the generic http step's client, whose transport guards every connect.</summary>
    public const string GuardedClientName = "external-http";

    public async Task<ExternalHttpResponse> SendAsync(HttpRequestMessage request, IEnumerable<string?> secrets, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(timeout);
        var target = SecretRedactor.Redact($"{request.RequestUri?.GetLeftPart(UriPartial.Path)}", secrets);
        try
        {
            using var response = await http.SendAsync(request, attempt.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(attempt.Token).ConfigureAwait(false);
            return new ExternalHttpResponse(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType, RetryAfter(response))
            {
                Location = response.Headers.Location,
            };
        }
        catch (Exception ex) when (ex is TimeoutRejectedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw WorkflowException.External("timeout", $"{target} did not answer within {timeout.TotalSeconds:0.#} s.", retryable: true);
        }
        catch (BrokenCircuitException broken)
        {
            // The host's circuit breaker for this host is open: the gateway's retry waits it out.
            throw WorkflowException.External("service_unavailable", $"{target} failed too often recently; calls to it are paused.",
                retryable: true, broken.RetryAfter?.TotalSeconds);
        }
        catch (HttpRequestException failure) when (FindBlocked(failure) is { } blocked)
        {
            throw WorkflowException.Config("address_not_allowed", $"{target} was not called: {blocked.Message}",
                "Set External:Http:AllowPrivateNetworks=true only if workflows may reach internal addresses.");
        }
        catch (HttpRequestException failure)
        {
            throw WorkflowException.External(
                "connection_error", $"Could not reach {target}: {SecretRedactor.Redact(failure.Message, secrets)}", retryable: true);
        }
    }

    /// <summary>The common part of status classification: 408/429/5xx are retryable, other failures are not.</summary>
    public static WorkflowException StatusFailure(ExternalHttpResponse response, string what, string providerMessage)
    {
        var status = (int)response.StatusCode;
        return response.StatusCode switch
        {
            HttpStatusCode.TooManyRequests => WorkflowException.External(
                "rate_limited", $"{what} is rate limiting ({status}): {providerMessage}", retryable: true, response.RetryAfter?.TotalSeconds),
            HttpStatusCode.RequestTimeout => WorkflowException.External("timeout", $"{what} timed out ({status}).", retryable: true),
            _ when status >= 500 => WorkflowException.External(
                "service_unavailable", $"{what} failed ({status}): {providerMessage}", retryable: true, response.RetryAfter?.TotalSeconds),
            _ => WorkflowException.External("http_error", $"{what} answered {status}: {providerMessage}", retryable: false),
        };
    }

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

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };
}

/// <summary>Status, body and Retry-After of one external response.</summary>
public sealed record ExternalHttpResponse(HttpStatusCode StatusCode, string Body, string? MediaType, TimeSpan? RetryAfter)
{
    /// <summary>The Location header of a redirect (relative or absolute).</summary>
    public Uri? Location { get; init; }

    public bool IsRedirect => (int)StatusCode is 301 or 302 or 303 or 307 or 308;

    public bool IsSuccess => (int)StatusCode is >= 200 and < 300;

    /// <summary>The body as JSON, or null when it is not JSON.</summary>
    public JsonNode? Json()
    {
        try
        {
            return Body.Length == 0 ? null : JsonNode.Parse(Body);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
