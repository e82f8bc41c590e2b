using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Fake WeatherAPI.com (<c>GET /v1/current.json</c>, <c>/v1/forecast.json</c>): answers for any <c>q</c> with a fixed
/// temperature, and with WeatherAPI's own error shape (<c>{"error":{"code","message"}}</c>) for a missing key.
/// </summary>
public sealed class FakeWeatherApiServer : FakeHttpServer
{
    private FakeWeatherApiServer()
    {
    }

    /// <summary>Temperature every answer reports.</summary>
    public double TemperatureC { get; set; } = 21.5;

    public static async Task<FakeWeatherApiServer> StartAsync()
    {
        var server = new FakeWeatherApiServer();
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Answers the next request with a WeatherAPI error code (1006 no location, 2006 bad key, 2007 quota).</summary>
    public void EnqueueApiError(int statusCode, int code, string message) =>
        Enqueue(new FakeResponse(statusCode, Error(code, message)));

    protected override string ErrorBody(int statusCode, string message) => Error(9999, message);

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (string.IsNullOrEmpty(request.Query("key")))
        {
            await WriteJsonAsync(context, Error(1002, "API key is invalid or not provided."), 401);
            return;
        }

        var q = request.Query("q") ?? "";
        var current = new JsonObject { ["temp_c"] = TemperatureC, ["condition"] = new JsonObject { ["text"] = "Sunny", ["code"] = 1000 } };
        var document = new JsonObject
        {
            ["location"] = new JsonObject { ["name"] = q, ["country"] = "Testland" },
            ["current"] = current,
        };
        switch (request.Path)
        {
            case "/v1/current.json":
                break;
            case "/v1/forecast.json":
                var days = int.Parse(request.Query("days") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
                document["forecast"] = new JsonObject
                {
                    ["forecastday"] = new JsonArray([.. Enumerable.Range(0, days).Select(d => (JsonNode)new JsonObject
                    {
                        ["date"] = $"2026-01-{d + 1:00}",
                        ["day"] = new JsonObject { ["maxtemp_c"] = TemperatureC + d },
                    })]),
                };
                break;
            default:
                await WriteJsonAsync(context, Error(1005, "API request url is invalid"), 400);
                return;
        }

        await WriteJsonAsync(context, document.ToJsonString());
    }

    private static string Error(int code, string message) =>
        new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }.ToJsonString();
}
