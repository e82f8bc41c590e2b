using System.Net;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// WeatherAPI.com: <c>current</c> and <c>forecast</c> (<c>days</c> 1-14) for <c>location</c> (a place name or
/// "lat,lng") or <c>lat</c>/<c>lng</c>. Returns WeatherAPI's JSON unchanged. Key: <c>WEATHERAPI_API_KEY</c>.
/// </summary>
public sealed class WeatherApiService(ExternalHttp http, ExternalServiceOptions options, Func<string, string?> environment) : IExternalService
{
    public const string ServiceName = "weatherapi";
    public const string KeyVariable = "WEATHERAPI_API_KEY";

    private readonly Uri _baseUrl = new((options.BaseUrl ?? "https://api.weatherapi.com").TrimEnd('/') + "/");

    public string Name => ServiceName;

    public IReadOnlyCollection<string> Operations { get; } = ["current", "forecast"];

    public IEnumerable<string?> Secrets => [ApiKey];

    private string? ApiKey => options.ApiKey ?? environment(KeyVariable);

    public TimeSpan DefaultCacheTtl(string operation) => operation == "current" ? TimeSpan.FromMinutes(10) : TimeSpan.FromHours(1);

    public async Task<JsonNode?> CallAsync(string operation, JsonObject parameters, CancellationToken cancellationToken)
    {
        var query = ServiceParameters.Coordinates(parameters) is { } coordinates
            ? ServiceParameters.Format(coordinates)
            : ServiceParameters.String(parameters, "location") ?? ServiceParameters.String(parameters, "q")
                ?? throw WorkflowException.User("missing_parameter", "WeatherAPI needs 'location' (a place or \"lat,lng\") or 'lat' and 'lng'.");
        var path = operation == "forecast"
            ? $"v1/forecast.json?days={ServiceParameters.Integer(parameters, "days", 3, 1, 14)}&"
            : "v1/current.json?";
        var key = ApiKey ?? throw WorkflowException.Config(
            "missing_api_key", $"WeatherAPI needs an API key: set {KeyVariable} (or External:Services:weatherapi:ApiKey).");
        var url = new Uri(_baseUrl, $"{path}q={Uri.EscapeDataString(query)}&aqi=no&key={Uri.EscapeDataString(key)}");

        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        var response = await http.SendAsync(request, Secrets, cancellationToken).ConfigureAwait(false);
        var json = response.Json();
        return response.IsSuccess && json is not null ? json : throw Failure(response, json);
    }

    /// <summary>WeatherAPI's error codes: 1002/2006/2008 key problems, 2007 quota, 1003/1005/1006 bad location.</summary>
    private static WorkflowException Failure(ExternalHttpResponse response, JsonNode? json)
    {
        var code = json?["error"]?["code"]?.GetValue<int>();
        var message = json?["error"]?["message"]?.GetValue<string>() ?? "no error message";
        return (response.StatusCode, code) switch
        {
            (_, 1002 or 2006 or 2008) or (HttpStatusCode.Unauthorized, _) => WorkflowException.Config(
                "invalid_api_key", $"WeatherAPI rejected the API key: {message}", $"Check {KeyVariable}."),
            (_, 2007) => WorkflowException.External("quota_exceeded", $"WeatherAPI quota exceeded: {message}", retryable: false),
            (HttpStatusCode.BadRequest, _) => WorkflowException.User("invalid_location", $"WeatherAPI could not use the location: {message}"),
            _ when response.IsSuccess => WorkflowException.External("invalid_response", "WeatherAPI answered with a body that is not JSON.", retryable: true),
            _ => ExternalHttp.StatusFailure(response, "WeatherAPI", message),
        };
    }
}
