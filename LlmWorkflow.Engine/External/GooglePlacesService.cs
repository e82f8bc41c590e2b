using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Google Places (legacy JSON API): <c>nearby_search</c> (location, radius, type, keyword) and <c>text_search</c>
/// (query, optional location/radius/type). Returns Google's document (<c>results[]</c> with name, vicinity or
/// formatted_address, geometry.location, rating, place_id, types; <c>status</c>); ZERO_RESULTS is an empty success.
/// Key: <c>GOOGLE_SERVICES_API_KEY</c> or <c>GOOGLE_PLACES_API_KEY</c>.
/// </summary>
public sealed class GooglePlacesService(ExternalHttp http, ExternalServiceOptions options, Func<string, string?> environment) : IExternalService
{
    public const string ServiceName = "google_places";
    public static readonly string[] KeyVariables = ["GOOGLE_SERVICES_API_KEY", "GOOGLE_PLACES_API_KEY"];

    private const int MaxRadiusMeters = 50_000;

    private readonly Uri _baseUrl = new((options.BaseUrl ?? "https://maps.googleapis.com").TrimEnd('/') + "/");

    public string Name => ServiceName;

    public IReadOnlyCollection<string> Operations { get; } = ["nearby_search", "text_search"];

    public IEnumerable<string?> Secrets => [ApiKey];

    private string? ApiKey => options.ApiKey ?? KeyVariables.Select(environment).FirstOrDefault(k => !string.IsNullOrEmpty(k));

    // Places change slowly; a day keeps repeated lookups for the same area free.
    public TimeSpan DefaultCacheTtl(string operation) => TimeSpan.FromHours(24);

    public async Task<JsonNode?> CallAsync(string operation, JsonObject parameters, CancellationToken cancellationToken)
    {
        var query = new StringBuilder();
        var coordinates = ServiceParameters.Coordinates(parameters);
        if (operation == "nearby_search")
        {
            if (coordinates is null)
            {
                throw WorkflowException.User("missing_parameter", "nearby_search needs 'location' (\"lat,lng\") or 'lat' and 'lng'.");
            }

            Append(query, "keyword", ServiceParameters.String(parameters, "keyword"));
        }
        else
        {
            Append(query, "query", ServiceParameters.RequireString(parameters, "query", operation));
        }

        if (coordinates is { } point)
        {
            Append(query, "location", ServiceParameters.Format(point));
            Append(query, "radius", ServiceParameters.Integer(parameters, "radius", 5_000, 1, MaxRadiusMeters).ToString(CultureInfo.InvariantCulture));
        }

        Append(query, "type", ServiceParameters.String(parameters, "type"));
        var key = ApiKey ?? throw WorkflowException.Config(
            "missing_api_key", $"Google Places needs an API key: set {string.Join(" or ", KeyVariables)} (or External:Services:google_places:ApiKey).");
        Append(query, "key", key);

        var path = operation == "nearby_search" ? "maps/api/place/nearbysearch/json" : "maps/api/place/textsearch/json";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUrl, $"{path}?{query}"));
        var response = await http.SendAsync(request, Secrets, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw ExternalHttp.StatusFailure(response, "Google Places", SecretRedactor.Redact(response.Body.Length > 200 ? response.Body[..200] : response.Body, Secrets));
        }

        var json = response.Json() as JsonObject
            ?? throw WorkflowException.External("invalid_response", "Google Places answered with a body that is not a JSON object.", retryable: true);
        return Classify(json);
    }

    /// <summary>Places reports failures in <c>status</c> with HTTP 200.</summary>
    private static JsonObject Classify(JsonObject json)
    {
        var status = json["status"]?.GetValue<string>() ?? "UNKNOWN_ERROR";
        var message = json["error_message"]?.GetValue<string>() ?? status;
        return status switch
        {
            "OK" or "ZERO_RESULTS" => json,
            "REQUEST_DENIED" => throw WorkflowException.Config(
                "request_denied", $"Google Places denied the request: {message}", $"Check {KeyVariables[0]} and that the Places API is enabled for it."),
            "OVER_QUERY_LIMIT" => throw WorkflowException.External("rate_limited", $"Google Places quota or rate limit reached: {message}", retryable: true),
            "INVALID_REQUEST" => throw WorkflowException.User("invalid_request", $"Google Places rejected the parameters: {message}"),
            _ => throw WorkflowException.External("service_unavailable", $"Google Places failed ({status}): {message}", retryable: true),
        };
    }

    private static void Append(StringBuilder query, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        query.Append(query.Length == 0 ? "" : "&").Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
