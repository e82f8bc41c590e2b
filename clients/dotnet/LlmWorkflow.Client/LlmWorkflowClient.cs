using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Client;

/// <summary>
/// The LlmWorkflow service over one <see cref="HttpClient"/>: a method per route of the OpenAPI document (generated,
/// <c>Generated/LlmWorkflowClient.g.cs</c>) and the helpers a main app keeps writing by hand (<see cref="SubmitAsync"/>
/// with an idempotency key, <see cref="WaitForCompletionAsync"/>, <see cref="EventsAsync"/>). Every non-success
/// answer throws a typed <see cref="LlmWorkflowException"/>. Register it with
/// <c>services.AddLlmWorkflowClient(o =&gt; ...)</c>, or build one with <see cref="Create"/>.
/// </summary>
public partial class LlmWorkflowClient(HttpClient http)
{
    /// <summary>snake_case both ways, nulls left out of requests, as the service reads and writes JSON.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        AllowOutOfOrderMetadataProperties = true,
    };

    /// <summary>A client without dependency injection (its own HttpClient; keep one for the app's lifetime).</summary>
    public static LlmWorkflowClient Create(Uri baseAddress, string apiKey)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        LlmWorkflowClientOptions.ApplyKey(http, apiKey);
        return new LlmWorkflowClient(http);
    }

    private async Task<T> SendForJsonAsync<T>(HttpMethod method, string path, (string Name, string? Value)[] query,
        (string Name, string? Value)[] headers, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendCheckedAsync(method, path, query, headers, body, cancellationToken);
        return await ReadJsonAsync<T>(response, cancellationToken);
    }

    private async Task<string> SendForTextAsync(HttpMethod method, string path, (string Name, string? Value)[] query,
        (string Name, string? Value)[] headers, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendCheckedAsync(method, path, query, headers, body, cancellationToken);
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }

    private async Task SendAsync(HttpMethod method, string path, (string Name, string? Value)[] query,
        (string Name, string? Value)[] headers, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendCheckedAsync(method, path, query, headers, body, cancellationToken);
    }

    /// <summary>Sends one request and returns the response when it is a success; otherwise throws the typed exception.</summary>
    private async Task<HttpResponseMessage> SendCheckedAsync(HttpMethod method, string path, (string Name, string? Value)[] query,
        (string Name, string? Value)[] headers, object? body, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(method, WithQuery(path, query));
        foreach (var (name, value) in headers)
        {
            if (value is not null)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: JsonOptions);
        }

        var response = await http.SendAsync(request, completion, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await LlmWorkflowException.FromResponseAsync(response, cancellationToken);
            }
        }

        return response;
    }

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await response.Content.ReadFromJsonAsync<T>(JsonOptions, cancellationToken)
        ?? throw new LlmWorkflowException(ProblemKind.Unexpected, response.StatusCode, null, null, "The service answered with an empty body.");

    private static string WithQuery(string path, (string Name, string? Value)[] query)
    {
        var pairs = query.Where(p => p.Value is not null).Select(p => $"{Uri.EscapeDataString(p.Name)}={Uri.EscapeDataString(p.Value!)}").ToList();
        return pairs.Count == 0 ? path : $"{path}?{string.Join('&', pairs)}";
    }

    private static string Escape(object value) => Uri.EscapeDataString(Format(value)!);

    /// <summary>A path, query or header value as the service reads it: invariant numbers, ISO 8601 times, lowercase booleans.</summary>
    private static string? Format(object? value) => value switch
    {
        null => null,
        string text => text,
        bool flag => flag ? "true" : "false",
        DateTimeOffset time => time.ToString("O", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    // The service marks the answer to a repeated Idempotency-Key (same status and body as the first) with this header.
    private static bool IsReplay(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true", StringComparer.OrdinalIgnoreCase);
}
