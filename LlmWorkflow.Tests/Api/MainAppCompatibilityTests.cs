using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// What the documents' main app and container platforms need from the API (issue 18), on a real API over real
/// Postgres and Redis: webhook secrets checked at submit, the default webhook URL, CORS preflights, per-user rate
/// limits keyed on the body's user_id, and the documents' environment variable names.
/// </summary>
[IntegrationTest]
public sealed class MainAppCompatibilityTests(TestServers servers)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ApiFactory Api, TestEnvironment Environment)> StartAsync(string name, Dictionary<string, string?> extra)
    {
        var environment = await TestEnvironment.CreateAsync(servers, name);
        return (new ApiFactory(environment.Settings(extra)), environment);
    }

    [Fact]
    public async Task AWebhookUrlWithoutAnySigningSecretIsRefusedNamingTheSetting()
    {
        var (api, _) = await StartAsync("nosecret", new() { ["Webhooks:AllowPrivateNetworks"] = "true" });
        await using var _ = api;
        using var client = api.CreateAuthenticatedClient();

        var refused = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "hello_transform", input_data = new { name = "Ada" }, webhook_url = "http://127.0.0.1:9/hook" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonObject>(Ct);
        var message = (string?)problem!["errors"]!["webhook_secret"]![0];
        Assert.Contains("LLM_WEBHOOK_SECRET", message, StringComparison.Ordinal);

        var withOwnSecret = await client.PostAsJsonAsync("/api/v1/workflow",
            new { workflow_name = "hello_transform", input_data = new { name = "Ada" }, webhook_url = "http://127.0.0.1:9/hook", webhook_secret = "job-secret" }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, withOwnSecret.StatusCode);

        var withoutWebhook = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "Ada" } }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, withoutWebhook.StatusCode);
    }

    [Fact]
    public async Task ASubmissionWithoutWebhookUrlGetsTheServiceDefault()
    {
        const string defaultUrl = "http://127.0.0.1:9/api/webhooks/llm-callback";
        var (api, environment) = await StartAsync("defaulthook", new()
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:Secret"] = "service-secret",
            ["Webhooks:DefaultUrl"] = defaultUrl,
        });
        await using var _ = api;
        using var client = api.CreateAuthenticatedClient();

        var plain = await SubmitAsync(client, new { workflow_name = "hello_transform", input_data = new { name = "Ada" } });
        var own = await SubmitAsync(client, new { workflow_name = "hello_transform", input_data = new { name = "Ada" }, webhook_url = "http://127.0.0.1:9/own" });

        Assert.Equal(defaultUrl, await WebhookUrlAsync(environment, plain));
        Assert.Equal("http://127.0.0.1:9/own", await WebhookUrlAsync(environment, own));
    }

    [Fact]
    public async Task CorsPreflightsAreAnsweredForConfiguredOriginsOnly()
    {
        var (api, _) = await StartAsync("cors", new() { ["Cors:AllowedOrigins"] = "https://app.example.com, http://localhost:3000" });
        await using var _ = api;
        using var client = api.CreateClient();

        var allowed = await client.SendAsync(Preflight("http://localhost:3000"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("http://localhost:3000", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var allowedHeaders = string.Join(",", allowed.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
        Assert.Contains("x-api-key", allowedHeaders, StringComparison.Ordinal);
        Assert.Contains("content-type", allowedHeaders, StringComparison.Ordinal);

        var other = await client.SendAsync(Preflight("https://evil.example.net"), Ct);
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        using var get = new HttpRequestMessage(HttpMethod.Get, "/api/v1/workflows");
        get.Headers.Add("Origin", "https://app.example.com");
        get.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        var actual = await client.SendAsync(get, Ct);
        Assert.Equal(HttpStatusCode.OK, actual.StatusCode);
        Assert.Equal("https://app.example.com", actual.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task PerUserRateLimitsKeyOnTheBodysUserId()
    {
        var (api, _) = await StartAsync("ratelimit", new()
        {
            ["RateLimiting:Enabled"] = "true",
            ["RateLimiting:PerUserPerMinute"] = "2",
            ["RateLimiting:PerKeyPerMinute"] = "1000",
        });
        await using var _ = api;
        using var client = api.CreateAuthenticatedClient();

        var statuses = new List<HttpStatusCode>();
        foreach (var user in new[] { "u1", "u1", "u1", "u2", "u2", "u3" })
        {
            var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "Ada" }, user_id = user }, Ct);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                // The endpoint still read the whole body after the limiter peeked at it.
                var body = await response.Content.ReadFromJsonAsync<JsonObject>(Ct);
                Assert.Equal("hello_transform", (string?)body!["workflow_name"]);
            }
        }

        Assert.Equal(
            [HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests, HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted],
            statuses);
    }

    [Fact]
    public async Task TheApiStartsFromTheDocumentsEnvironmentVariableNames()
    {
        var environment = await TestEnvironment.CreateAsync(servers, "envnames");
        var settings = environment.Settings();
        settings.Remove("ConnectionStrings:postgres");
        settings.Remove("ConnectionStrings:redis");
        var postgres = new NpgsqlConnectionStringBuilder(environment.PostgresConnectionString);
        var password = string.IsNullOrEmpty(postgres.Password) ? "" : ":" + Uri.EscapeDataString(postgres.Password);
        settings["DATABASE_URL"] = $"postgres://{Uri.EscapeDataString(postgres.Username!)}{password}@{postgres.Host}:{postgres.Port}/{postgres.Database}";
        settings["REDIS_URL"] = "redis://" + environment.RedisConnectionString.Split(',')[0];
        await using var api = new ApiFactory(settings);
        using var client = api.CreateClient();

        var health = await client.GetFromJsonAsync<JsonObject>("/api/v1/health", Ct);
        Assert.Equal("healthy", (string?)health!["services"]!["database"]!["status"]);
        Assert.Equal("healthy", (string?)health["services"]!["redis"]!["status"]);
        Assert.False(string.IsNullOrEmpty((string?)health["version"]));
        Assert.True(DateTimeOffset.TryParse((string?)health["timestamp"], System.Globalization.CultureInfo.InvariantCulture, out _));
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/v1/workflow");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,x-api-key");
        return request;
    }

    private static async Task<Guid> SubmitAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        return Guid.Parse((string)JsonNode.Parse(text)!["job_id"]!);
    }

    private static async Task<string?> WebhookUrlAsync(TestEnvironment environment, Guid jobId)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT webhook_url FROM llm_workflow_jobs WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", jobId);
        return (string?)await command.ExecuteScalarAsync(Ct);
    }
}
