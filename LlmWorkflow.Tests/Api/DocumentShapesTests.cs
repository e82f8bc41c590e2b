using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// Issue 62 on the API over real PostgreSQL and Redis (no worker): a repeated Idempotency-Key gets the original answer
/// and another body with it 422 (the IETF draft); the health answers in document 001's shape; a dry run of an ad-hoc
/// definition lists every structural problem; external_api_cache answers document 001's cache statistics query.
/// </summary>
[IntegrationTest]
public sealed class DocumentShapesTests(ClassApi api) : ApiWithDatabase(api)
{
    private const string HelloAda = """{"workflow_name": "hello_transform", "input_data": {"name": "Ada"}}""";

    [Fact]
    public async Task ARepeatedIdempotencyKeyGetsTheOriginalAnswerAfterTheJobChanged()
    {
        var key = "shapes-" + Guid.NewGuid();
        using var first = await SubmitAsync(HelloAda, key);
        var original = await first.Content.ReadAsStringAsync(Ct);
        Assert.True(first.StatusCode == HttpStatusCode.Accepted, original);
        var jobId = (string)JsonNode.Parse(original)!["job_id"]!;
        Assert.Equal(jobId, (string?)JsonNode.Parse(original)!["celery_task_id"]);

        // The job changes (cancelled), and the same request comes again with its members in another order.
        using (var cancelled = await Caller.DeleteAsync($"/api/v1/workflow/{jobId}", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        }

        using var repeat = await SubmitAsync("""{"input_data": {"name": "Ada"}, "workflow_name": "hello_transform"}""", key);
        Assert.Equal(HttpStatusCode.Accepted, repeat.StatusCode);
        Assert.Equal(original, await repeat.Content.ReadAsStringAsync(Ct));
        Assert.Equal(first.Headers.Location, repeat.Headers.Location);

        // created_at as the status route reads it back: the same instant at the same precision.
        var status = await Caller.GetFromJsonAsync<JsonObject>($"/api/v1/status/{jobId}", Ct);
        Assert.Equal((string?)JsonNode.Parse(original)!["created_at"], (string?)status!["created_at"]);
    }

    [Fact]
    public async Task TheSameKeyWithAnotherBodyIs422NamingTheConflict()
    {
        var key = "shapes-" + Guid.NewGuid();
        using var first = await SubmitAsync(HelloAda, key);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        using var other = await SubmitAsync("""{"workflow_name": "hello_transform", "input_data": {"name": "Grace"}}""", key);
        var problem = await other.Content.ReadAsStringAsync(Ct);
        Assert.True(other.StatusCode == HttpStatusCode.UnprocessableEntity, problem);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(problem)!;
        Assert.Equal("idempotency_key_conflict", (string?)body["error"]);
        Assert.Equal("Idempotency-Key", (string?)body["field"]);
        Assert.Contains(key, (string?)body["detail"], StringComparison.Ordinal);
        Assert.Equal(1L, await CountJobsWithKeyAsync(key));
    }

    [Fact]
    public async Task HealthNamesTheWorkersCeleryWithANumericCountAndTheDatabaseType()
    {
        using var anonymous = Api.CreateClient();
        var document = await anonymous.GetFromJsonAsync<JsonObject>("/api/v1/health", Ct);
        var services = document!["services"]!;
        Assert.Equal("postgresql", (string?)services["database"]!["type"]);
        Assert.Equal("healthy", (string?)services["database"]!["status"]);
        // No worker runs here: celery says so as document 001 reads it, a number and a status.
        Assert.Equal(0, services["celery"]!["workers"]!.GetValue<int>());
        Assert.Equal((string?)services["workers"]!["status"], (string?)services["celery"]!["status"]);

        var probe = await anonymous.GetFromJsonAsync<JsonObject>("/health", Ct);
        Assert.Equal("Healthy", (string?)probe!["checks"]!["database"]!["status"]);
        Assert.Equal("postgresql", (string?)probe["services"]!["database"]!["type"]);
        Assert.Equal("healthy", (string?)probe["services"]!["database"]!["status"]);
        Assert.Equal(0, probe["services"]!["celery"]!["workers"]!.GetValue<int>());
    }

    [Fact]
    public async Task ADryRunOfAnAdHocDefinitionListsEveryStructuralProblem()
    {
        var definition = JsonNode.Parse("""
            {
              "name": "broken",
              "timeout_seconds": "soon",
              "steps": [
                {"type": "transform", "config": {"operation": "template", "template": "x"}},
                {"id": "second", "type": "transform", "config": {}, "timeout_seconds": "later"},
                {"id": "third", "config": {}}
              ]
            }
            """);
        using var response = await Caller.PostAsJsonAsync("/api/v1/workflow/validate", new { workflow = definition, input_data = new { } }, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var fields = JsonNode.Parse(text)!["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal);
        // steps[1]'s transform config lacks its operation: the schema says so beside the serializer's problems (issue 80).
        Assert.Equal(["workflow.steps[0]", "workflow.steps[1].config", "workflow.steps[1].timeout_seconds", "workflow.steps[2]", "workflow.timeout_seconds"], fields);
    }

    [Fact]
    public async Task ADryRunListsTheProblemsAjvFindsNotOnlyTheFirst()
    {
        // ajv finds three problems here (WorkflowSchemaTests); the dry run answered only on_error (issue 80 item 15).
        var definition = JsonNode.Parse("""
            {"name": "x", "steps": [{"id": "a", "type": "llm", "on_error": "explode", "config": {"model": "gpt4", "prompt": "p", "temperature": 5}}]}
            """);
        using var response = await Caller.PostAsJsonAsync("/api/v1/workflow/validate", new { workflow = definition, input_data = new { } }, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var errors = JsonNode.Parse(text)!["errors"]!.AsObject();
        Assert.Equal(["workflow.steps[0].config.model", "workflow.steps[0].config.temperature", "workflow.steps[0].on_error"],
            errors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.All(errors, e => Assert.NotEmpty(e.Value!.AsArray()));
    }

    [Fact]
    public async Task CachedExternalAnswersFillExternalApiCacheForDocument001sStatistics()
    {
        var ledger = Api.Services.GetRequiredService<IExternalCacheLedger>();
        await ledger.StoredAsync("weatherapi", "current", "ext:weatherapi:current:a", """{"temp_c": 21}""", TimeSpan.FromMinutes(10), Ct);
        await ledger.StoredAsync("weatherapi", "current", "ext:weatherapi:current:b", """{"temp_c": 9}""", TimeSpan.FromMinutes(10), Ct);
        await ledger.StoredAsync("google_places", "nearby", "ext:google_places:nearby:c", """{"results": []}""", TimeSpan.FromHours(24), Ct);
        await ledger.HitAsync("ext:weatherapi:current:a", Ct);
        await ledger.HitAsync("ext:weatherapi:current:a", Ct);

        // Document 001's query, as printed.
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync(Ct);
        await using var query = new NpgsqlCommand("""
            SELECT service, operation, COUNT(*) as hit_count,
                   AVG(EXTRACT(EPOCH FROM (expires_at - created_at))) as avg_ttl_seconds
            FROM external_api_cache
            GROUP BY service, operation
            ORDER BY service
            """, connection);
        var rows = new List<(string, string, long, decimal)>();
        await using (var reader = await query.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), Math.Round(Convert.ToDecimal(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture))));
            }
        }

        Assert.Equal([("google_places", "nearby", 1L, 86400m), ("weatherapi", "current", 2L, 600m)], rows);
        await using var hits = new NpgsqlCommand("SELECT hit_count FROM external_api_cache WHERE cache_key = 'ext:weatherapi:current:a'", connection);
        Assert.Equal(2, await hits.ExecuteScalarAsync(Ct));
    }

    private async Task<HttpResponseMessage> SubmitAsync(string body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        return await Caller.SendAsync(request, Ct);
    }

    private async Task<long> CountJobsWithKeyAsync(string key)
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync(Ct);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM llm_workflow_jobs WHERE idempotency_key = $1", connection);
        count.Parameters.Add(new NpgsqlParameter { Value = key });
        return (long)(await count.ExecuteScalarAsync(Ct))!;
    }
}
