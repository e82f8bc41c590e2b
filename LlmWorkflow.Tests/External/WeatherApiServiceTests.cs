using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Tests.Fakes;

namespace LlmWorkflow.Tests.External;

[IntegrationTest]
public sealed class WeatherApiServiceTests
{
    [Fact]
    public async Task CurrentWeatherForCoordinatesSendsQueryAndKey()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl));

        var result = await gateway.CallAsync("weatherapi", "current", new JsonObject { ["lat"] = 52.52, ["lng"] = "13.405" }, TestContext.Current.CancellationToken);

        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/v1/current.json", sent.Path);
        Assert.Equal("52.52,13.405", sent.Query("q"));
        Assert.Equal(TestExternalGateways.WeatherKey, sent.Query("key"));
        Assert.Equal(21.5, result!["current"]!["temp_c"]!.GetValue<double>());
    }

    [Fact]
    public async Task ForecastAsksForTheRequestedDays()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl));

        var result = await gateway.CallAsync("weatherapi", "forecast", new JsonObject { ["location"] = "Berlin", ["days"] = 3 }, TestContext.Current.CancellationToken);

        Assert.Equal("3", Assert.Single(fake.Requests).Query("days"));
        Assert.Equal("Berlin", result!["location"]!["name"]!.GetValue<string>());
        Assert.Equal(3, result["forecast"]!["forecastday"]!.AsArray().Count);
    }

    [Theory]
    [InlineData(91, 10)]
    [InlineData(10, -181)]
    [InlineData("north", 10)]
    public async Task BadCoordinatesAreAUserErrorAndMakeNoCall(object lat, object lng)
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl));
        var parameters = new JsonObject { ["lat"] = JsonValue.Create(lat), ["lng"] = JsonValue.Create(lng) };

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("weatherapi", "current", parameters, TestContext.Current.CancellationToken))).Error;

        Assert.Equal(ErrorCategory.UserError, error.Category);
        Assert.Equal("weatherapi", error.Details!["service"]!.GetValue<string>());
        Assert.Equal("current", error.Details!["operation"]!.GetValue<string>());
        Assert.Equal(0, fake.CallCount);
    }

    [Fact]
    public async Task MissingKeyIsAConfigErrorNamingTheVariable()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl), new Dictionary<string, string>());

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Paris" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal(ErrorCategory.ConfigError, error.Category);
        Assert.Equal("missing_api_key", error.Type);
        Assert.Contains("WEATHERAPI_API_KEY", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, fake.CallCount);
    }

    [Theory]
    [InlineData(401, 2006, ErrorCategory.ConfigError, "invalid_api_key", false)]
    [InlineData(403, 2007, ErrorCategory.ExternalError, "quota_exceeded", false)]
    [InlineData(400, 1006, ErrorCategory.UserError, "invalid_location", false)]
    public async Task ApiErrorsAreClassifiedAndTheKeyIsRedacted(int status, int code, ErrorCategory category, string type, bool retryable)
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        fake.EnqueueApiError(status, code, $"Problem with key {TestExternalGateways.WeatherKey}");
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options(weather: fake.BaseUrl));

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Nowhere" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((category, type, retryable), (error.Category, error.Type, error.Retryable));
        Assert.DoesNotContain(TestExternalGateways.WeatherKey, error.Message, StringComparison.Ordinal);
        Assert.Contains("[REDACTED]", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, fake.CallCount);
    }

    [Fact]
    public async Task ServerErrorsAndRateLimitsAreRetriedWithBackoff()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        fake.EnqueueError(503, "maintenance");
        fake.EnqueueError(429, "too many", retryAfter: TimeSpan.FromSeconds(1));
        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        options.RetryMaxDelay = TimeSpan.FromSeconds(2);
        var gateway = TestExternalGateways.Create(options);

        var result = await gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Rome" }, TestContext.Current.CancellationToken);

        Assert.NotNull(result);
        Assert.Equal(3, fake.CallCount);
        var requests = fake.Requests;
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(requests[1].Timestamp, requests[2].Timestamp) >= TimeSpan.FromMilliseconds(950));
    }

    [Fact]
    public async Task TimeoutIsARetryableExternalError()
    {
        await using var fake = await FakeWeatherApiServer.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            fake.Enqueue(FakeResponse.Hanging());
        }

        var options = TestExternalGateways.Options(weather: fake.BaseUrl);
        options.Timeout = TimeSpan.FromMilliseconds(200);
        var gateway = TestExternalGateways.Create(options);

        var error = (await Assert.ThrowsAsync<WorkflowException>(
            () => gateway.CallAsync("weatherapi", "current", new JsonObject { ["location"] = "Oslo" }, TestContext.Current.CancellationToken))).Error;

        Assert.Equal((ErrorCategory.ExternalError, "timeout", true), (error.Category, error.Type, error.Retryable));
        Assert.Equal(3, fake.CallCount);
        Assert.DoesNotContain(TestExternalGateways.WeatherKey, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DescribeNamesUnknownServicesAndOperations()
    {
        var gateway = TestExternalGateways.Create(TestExternalGateways.Options());

        Assert.Null(gateway.Describe("weatherapi", "forecast"));
        Assert.Contains("google_places", gateway.Describe("weather", "current"), StringComparison.Ordinal);
        Assert.Contains("current, forecast", gateway.Describe("weatherapi", "history"), StringComparison.Ordinal);
    }
}
