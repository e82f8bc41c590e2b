using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// Fake Google Places legacy JSON API (<c>/maps/api/place/nearbysearch/json</c>, <c>/textsearch/json</c>): returns
/// <see cref="Places"/> (vicinity for nearby, formatted_address for text search) with <c>status</c> OK or
/// ZERO_RESULTS; <see cref="EnqueueStatus"/> scripts REQUEST_DENIED, OVER_QUERY_LIMIT, INVALID_REQUEST…
/// </summary>
public sealed class FakeGooglePlacesServer : FakeHttpServer
{
    private FakeGooglePlacesServer()
    {
    }

    public IReadOnlyList<FakePlace> Places { get; set; } =
    [
        new("City Hospital", "1 Main St", 52.52, 13.405, 4.2, "hospital", "health"),
        new("Police Station Mitte", "5 Law Ave", 52.521, 13.41, 3.9, "police"),
    ];

    public static async Task<FakeGooglePlacesServer> StartAsync()
    {
        var server = new FakeGooglePlacesServer();
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Answers the next request with HTTP 200 and this Places status (as the real API does).</summary>
    public void EnqueueStatus(string status, string? errorMessage = null) => Enqueue(new FakeResponse(200, Document(status, [], errorMessage).ToJsonString()));

    protected override string ErrorBody(int statusCode, string message) => Document("UNKNOWN_ERROR", [], message).ToJsonString();

    protected override async Task HandleAsync(HttpContext context, RecordedRequest request)
    {
        if (string.IsNullOrEmpty(request.Query("key")))
        {
            await WriteJsonAsync(context, Document("REQUEST_DENIED", [], "You must use an API key to authenticate each request.").ToJsonString());
            return;
        }

        var nearby = request.Path == "/maps/api/place/nearbysearch/json";
        if (!nearby && request.Path != "/maps/api/place/textsearch/json")
        {
            await WriteJsonAsync(context, "{}", 404);
            return;
        }

        var places = Places.Select(p =>
        {
            var result = new JsonObject
            {
                ["name"] = p.Name,
                ["place_id"] = p.PlaceId,
                ["geometry"] = new JsonObject { ["location"] = new JsonObject { ["lat"] = p.Latitude, ["lng"] = p.Longitude } },
                ["types"] = new JsonArray([.. p.Types.Select(t => (JsonNode)t)]),
            };
            result[nearby ? "vicinity" : "formatted_address"] = p.Address;
            if (p.Rating is { } rating)
            {
                result["rating"] = rating;
            }

            return result;
        }).ToList();
        await WriteJsonAsync(context, Document(places.Count == 0 ? "ZERO_RESULTS" : "OK", places, null).ToJsonString());
    }

    private static JsonObject Document(string status, List<JsonObject> results, string? errorMessage)
    {
        var document = new JsonObject { ["html_attributions"] = new JsonArray(), ["results"] = new JsonArray([.. results]), ["status"] = status };
        if (errorMessage is not null)
        {
            document["error_message"] = errorMessage;
        }

        return document;
    }
}
