using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Contracts;

namespace LlmWorkflow.Cli.Remote;

/// <summary>The service's v1 HTTP API as the CLI uses it: submit, status, list, cancel and the live event stream.</summary>
public sealed class ServiceClient : IDisposable
{
    private const int MaxReconnects = 5;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private readonly HttpClient _http;

    public ServiceClient(Uri baseUrl, string? apiKey, HttpMessageHandler? handler = null)
    {
        // The event stream stays open for the whole run, so no overall timeout; calls pass their own tokens.
        _http = new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: handler is null) { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey))
        {
            _http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
        }
    }

    public Task<JsonObject> SubmitAsync(JsonObject request, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/v1/workflow") { Content = JsonContent.Create(request) }, cancellationToken);

    public async Task<JobStatusResponse> GetStatusAsync(string jobId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/status/{Uri.EscapeDataString(jobId)}");
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return await response.Content.ReadFromJsonAsync(WireJsonContext.Default.JobStatusResponse, cancellationToken)
               ?? throw new ServiceException($"The service answered the status of job {jobId} with an empty body.");
    }

    /// <param name="filters">Query parameters of <c>GET /api/v1/jobs</c> (status_filter, user_id, limit, offset, limit_results); nulls are left out.</param>
    public Task<JsonObject> ListJobsAsync(IReadOnlyDictionary<string, string?> filters, CancellationToken cancellationToken)
    {
        var query = string.Join('&', filters.Where(f => f.Value is not null).Select(f => $"{f.Key}={Uri.EscapeDataString(f.Value!)}"));
        return SendAsync(new HttpRequestMessage(HttpMethod.Get, query.Length == 0 ? "api/v1/jobs" : $"api/v1/jobs?{query}"), cancellationToken);
    }

    /// <summary><c>POST /api/v1/jobs/{id}/retry</c>: queues a failed or cancelled job again (finished steps are reused).</summary>
    public Task<JsonObject> RetryAsync(string jobId, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, $"api/v1/jobs/{Uri.EscapeDataString(jobId)}/retry"), cancellationToken);

    /// <summary><c>GET /api/v1/workflows</c>: the service's catalog, an array of summaries.</summary>
    public async Task<JsonArray> ListWorkflowsAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/workflows");
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        return await response.Content.ReadFromJsonAsync<JsonArray>(cancellationToken) ?? [];
    }

    /// <summary><c>POST /api/v1/admin/keys</c> (admin key): a new API key; the answer holds its secret, shown once.</summary>
    public Task<JsonObject> CreateKeyAsync(JsonObject request, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/v1/admin/keys") { Content = JsonContent.Create(request) }, cancellationToken);

    /// <summary><c>GET /api/v1/admin/keys</c> (admin key): every database key without secrets, optionally of one tenant.</summary>
    public Task<JsonObject> ListKeysAsync(string? tenantId, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, tenantId is null ? "api/v1/admin/keys" : $"api/v1/admin/keys?tenant_id={Uri.EscapeDataString(tenantId)}"), cancellationToken);

    /// <summary><c>POST /api/v1/admin/keys/{id}/rotate</c> (admin key): a successor key; the old one works for the overlap.</summary>
    public Task<JsonObject> RotateKeyAsync(string keyId, int? overlapSeconds, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, $"api/v1/admin/keys/{Uri.EscapeDataString(keyId)}/rotate" +
            (overlapSeconds is { } seconds ? $"?overlap_seconds={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "")), cancellationToken);

    /// <summary><c>POST /api/v1/admin/keys/{id}/revoke</c> (admin key): the key stops working.</summary>
    public Task<JsonObject> RevokeKeyAsync(string keyId, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, $"api/v1/admin/keys/{Uri.EscapeDataString(keyId)}/revoke"), cancellationToken);

    public Task<JsonObject> CancelAsync(string jobId, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/workflow/{Uri.EscapeDataString(jobId)}"), cancellationToken);

    /// <summary>
    /// The job's events until the terminal one. A dropped connection is resumed from the last event id, so no event
    /// is lost or repeated.
    /// </summary>
    public async IAsyncEnumerable<JobEvent> StreamEventsAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? lastEventId = null;
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/jobs/{Uri.EscapeDataString(jobId)}/events");
            request.Headers.Accept.ParseAdd("text/event-stream");
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }

            using var response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var events = SseParser.Create(body).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    JobEvent next;
                    try
                    {
                        if (!await events.MoveNextAsync())
                        {
                            break;
                        }

                        var item = events.Current;
                        next = new JobEvent(item.EventId, item.EventType, JsonSerializer.Deserialize(item.Data, WireJsonContext.Default.LiveJobEvent)!);
                    }
                    catch (IOException) when (attempt < MaxReconnects)
                    {
                        break;
                    }

                    lastEventId = next.Id ?? lastEventId;
                    yield return next;
                    if (next.IsTerminal)
                    {
                        yield break;
                    }
                }
            }
            finally
            {
                await events.DisposeAsync();
            }

            if (attempt >= MaxReconnects)
            {
                throw new ServiceException($"The event stream of job {jobId} closed {MaxReconnects + 1} times before the job ended.");
            }

            await Task.Delay(ReconnectDelay, cancellationToken);
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<JsonObject> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken) ?? [];
        }
    }

    /// <summary>Sends and turns transport failures and error statuses into a <see cref="ServiceException"/> saying what to do.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new ServiceException($"Cannot reach the service at {_http.BaseAddress}: {ex.Message} Start it (dotnet run --project LlmWorkflow.AppHost) or pass --url / set LLMWF_URL.");
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new ServiceException($"{request.Method} {request.RequestUri}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}. {Describe(response.StatusCode, body)}".TrimEnd());
        }
    }

    /// <summary>The useful part of an error body: problem details' detail/title and field errors, or a hint for auth failures.</summary>
    private static string Describe(HttpStatusCode status, string body)
    {
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden && body.Length == 0)
        {
            return status == HttpStatusCode.Forbidden
                ? "This needs an admin key: pass --api-key or set LLMWF_ADMIN_KEY."
                : "Pass --api-key or set LLMWF_API_KEY.";
        }

        try
        {
            if (JsonNode.Parse(body) is JsonObject problem)
            {
                var summary = (string?)problem["detail"] ?? (string?)problem["message"] ?? (string?)problem["title"];
                var parts = new List<string?> { summary };
                if (problem["errors"] is JsonObject errors)
                {
                    // The service often repeats its field errors in detail; each is printed once.
                    parts.AddRange(errors
                        .SelectMany(e => e.Value is JsonArray messages ? messages.Select(m => (Field: e.Key, Message: (string?)m)) : [])
                        .Where(e => summary is null || !summary.Contains(e.Message ?? "", StringComparison.Ordinal))
                        .Select(e => $"{e.Field}: {e.Message}"));
                }

                return string.Join(" ", parts.Where(p => !string.IsNullOrEmpty(p)));
            }
        }
        catch (JsonException)
        {
            // Not JSON: show the text itself below.
        }

        return body.Length > 500 ? body[..500] : body;
    }
}
