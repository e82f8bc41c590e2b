using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.External;

[IntegrationTest]
public sealed class GooglePlacesServiceTests
{
    [Fact]
    public async Task NearbySearchSendsLocationRadiusTypeKeywordAndReturnsPlaces()
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl));
        var parameters = new JsonObject { ["location"] = "52.52,13.405", ["radius"] = 2000, ["type"] = "hospital", ["keyword"] = "emergency" };

        var result = await gateway.CallAsync("google_places", "nearby_search", parameters, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/maps/api/place/nearbysearch/json", sent.Path);
        Assert.Equal("52.52,13.405", sent.Query("location"));
        Assert.Equal("2000", sent.Query("radius"));
        Assert.Equal("hospital", sent.Query("type"));
        Assert.Equal("emergency", sent.Query("keyword"));
        Assert.Equal(TestExternalGateways.PlacesKey, sent.Query("key"));
        Assert.Equal("OK", result!["status"]!.GetValue<string>());
        var first = result["results"]![0]!;
        Assert.Equal("City Hospital", first["name"]!.GetValue<string>());
        Assert.Equal("1 Main St", first["vicinity"]!.GetValue<string>());
        Assert.Equal(52.52, first["geometry"]!["location"]!["lat"]!.GetValue<double>());
        Assert.Equal(4.2, first["rating"]!.GetValue<double>());
        Assert.Equal("place-city-hospital", first["place_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task TextSearchSendsTheQueryAndReturnsFormattedAddresses()
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl));

        var result = await gateway.CallAsync("google_places", "text_search", new JsonObject { ["query"] = "pharmacy in Berlin" }, TestContext.Current.CancellationToken);

        Assert.Equal("pharmacy in Berlin", Assert.Single(fake.Requests).Query("query"));
        Assert.Equal("1 Main St", result!["results"]![0]!["formatted_address"]!.GetValue<string>());
    }

    [Fact]
    public async Task ZeroResultsIsAnEmptySuccess()
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        fake.Places = [];
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl));

        var result = await gateway.CallAsync("google_places", "nearby_search", new JsonObject { ["lat"] = 1, ["lng"] = 2 }, TestContext.Current.CancellationToken);

        Assert.Equal("ZERO_RESULTS", result!["status"]!.GetValue<string>());
        Assert.Empty(result["results"]!.AsArray());
    }

    [Theory]
    [InlineData("REQUEST_DENIED", ErrorCategory.ConfigError, false, 1)]
    [InlineData("INVALID_REQUEST", ErrorCategory.UserError, false, 1)]
    [InlineData("OVER_QUERY_LIMIT", ErrorCategory.ExternalError, true, 3)]
    [InlineData("UNKNOWN_ERROR", ErrorCategory.ExternalError, true, 3)]
    public async Task StatusesAreClassifiedAndKeysRedacted(string status, ErrorCategory category, bool retryable, int calls)
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            fake.EnqueueStatus(status, $"The provided API key is invalid: {TestExternalGateways.PlacesKey}");
        }

        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl));

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("google_places", "nearby_search", new JsonObject { ["location"] = "1,2" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((category, retryable), (error.Category, error.Retryable));
        Assert.Equal(calls, fake.CallCount);
        Assert.DoesNotContain(TestExternalGateways.PlacesKey, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TestExternalGateways.PlacesKey, error.Details!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("nearby_search", error.Details!["operation"]!.GetValue<string>());
    }

    [Fact]
    public async Task KeyFallsBackToGoogleServicesVariableAndMissingKeyNamesBoth()
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        var withServicesKey = TestExternalGateways.Create(
            TestExternalGateways.Options(places: fake.BaseUrl), new Dictionary<string, string> { ["GOOGLE_SERVICES_API_KEY"] = "AIzaServicesKey0123456789abcdefgh" });
        var withoutKey = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl), new Dictionary<string, string>());

        await withServicesKey.CallAsync("google_places", "text_search", new JsonObject { ["query"] = "x" }, TestContext.Current.CancellationToken);
        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => withoutKey.CallAsync("google_places", "text_search", new JsonObject { ["query"] = "x" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal("AIzaServicesKey0123456789abcdefgh", Assert.Single(fake.Requests).Query("key"));
        Assert.Equal("missing_api_key", error.Type);
        Assert.Contains("GOOGLE_SERVICES_API_KEY or GOOGLE_PLACES_API_KEY", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RadiusOutOfRangeIsAUserError()
    {
        await using var fake = await FakeGooglePlacesServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(places: fake.BaseUrl));

        var error = (await Assert.ThrowsAsync<WorkflowException>(() => gateway.CallAsync(
            "google_places", "nearby_search", new JsonObject { ["location"] = "1,2", ["radius"] = 90_000 }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal(0, fake.CallCount);
    }
}
