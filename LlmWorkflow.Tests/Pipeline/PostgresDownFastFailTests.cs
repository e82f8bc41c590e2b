using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// With PostgreSQL stopped, every <c>/api/v1</c> route answers within 5 s — the ones that need the database with 503
/// and Retry-After — instead of sitting through EF Core's retries (about a minute). The routes are taken from the API's
/// own endpoint table, so a route added later is covered without editing this test.
/// </summary>
[IntegrationTest]
public sealed class PostgresDownFastFailTests(TestServers servers)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task EveryApiRouteAnswersWithin5SecondsAndTheDatabaseRoutesAnswer503WithRetryAfter()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("llmwf-pg-down-");
        await using var postgres = new LocalPostgres(new LocalPostgresOptions { DataDirectory = folder.FullName, TradeDurabilityForSpeed = true });
        await postgres.StartAsync(ct);
        try
        {
            var environment = await TestEnvironment.OnDatabaseAsync(await postgres.CreateDatabaseIfMissingAsync("fastfail", ct), servers);
            await using var api = new ApiFactory(environment.Settings());
            using var admin = api.CreateAuthenticatedClient(admin: true);
            var submitted = await admin.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "before" } }, ct);
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
            var jobId = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

            await postgres.StopAsync(immediate: true, ct);

            var answers = new List<string>();
            foreach (var (method, path) in ApiRoutes(api, jobId))
            {
                var (status, retryAfter, elapsed) = await SendAsync(admin, method, path, body: "{}", idempotencyKey: null, ct);
                answers.Add($"{method} {path}: {(int)status} in {elapsed.TotalMilliseconds:F0} ms");
                Assert.True(elapsed < Bound, string.Join("\n", answers));
                Assert.True(status != HttpStatusCode.InternalServerError, string.Join("\n", answers));
                Assert.True(status != HttpStatusCode.ServiceUnavailable || retryAfter, $"{method} {path}: 503 without Retry-After");
            }

            Assert.True(answers.Count >= 25, string.Join("\n", answers));

            // The routes a main app calls, with valid requests: each needs the database, so each must say 503.
            (HttpMethod Method, string Path, string? Body, string? Key)[] needTheDatabase =
            [
                (HttpMethod.Post, "/api/v1/workflow", """{"workflow_name":"hello_transform","input_data":{"name":"down"}}""", "key-1"),
                (HttpMethod.Get, $"/api/v1/status/{jobId}", null, null),
                (HttpMethod.Get, $"/api/v1/jobs/{jobId}", null, null),
                (HttpMethod.Get, "/api/v1/jobs?limit=10", null, null),
                (HttpMethod.Delete, $"/api/v1/workflow/{jobId}", null, null),
                (HttpMethod.Post, $"/api/v1/jobs/{jobId}/retry", null, null),
                (HttpMethod.Delete, "/api/v1/jobs/bulk", $$"""{"job_ids":["{{jobId}}"]}""", null),
                (HttpMethod.Get, $"/api/v1/jobs/{jobId}/events", null, null),
                (HttpMethod.Get, "/api/v1/admin/queue", null, null),
                (HttpMethod.Get, "/api/v1/admin/usage", null, null),
            ];
            foreach (var (method, path, body, key) in needTheDatabase)
            {
                var (status, retryAfter, elapsed) = await SendAsync(admin, method, path, body, key, ct);
                Assert.True(status == HttpStatusCode.ServiceUnavailable && retryAfter && elapsed < Bound,
                    $"{method} {path}: {(int)status}, Retry-After {(retryAfter ? "sent" : "missing")}, {elapsed.TotalMilliseconds:F0} ms");
            }
        }
        finally
        {
            await postgres.StopAsync(immediate: true, CancellationToken.None);
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Every /api/v1 route of the running API with its parameters filled in.</summary>
    private static IEnumerable<(HttpMethod Method, string Path)> ApiRoutes(ApiFactory api, string jobId)
    {
        var endpoints = api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        foreach (var endpoint in endpoints)
        {
            var pattern = "/" + endpoint.RoutePattern.RawText?.TrimStart('/');
            if (!pattern.StartsWith("/api/v1/", StringComparison.Ordinal) || pattern.EndsWith("/health", StringComparison.Ordinal))
            {
                continue;
            }

            var path = System.Text.RegularExpressions.Regex.Replace(pattern, @"\{(\w+)(:[^}]*)?\}", m => m.Groups[1].Value switch
            {
                "name" => "hello_transform",
                _ => jobId,
            });
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                yield return (new HttpMethod(method), path);
            }
        }
    }

    private static async Task<(HttpStatusCode Status, bool RetryAfter, TimeSpan Elapsed)> SendAsync(
        HttpClient client, HttpMethod method, string path, string? body, string? idempotencyKey, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null && method != HttpMethod.Get)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        return (response.StatusCode, response.Headers.RetryAfter is not null, clock.Elapsed);
    }
}
