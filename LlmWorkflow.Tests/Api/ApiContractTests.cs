using LlmWorkflow.Contracts;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Api;

/// <summary>The v1 HTTP contract against a real API on real Postgres + Redis (no worker: jobs stay queued).</summary>
[IntegrationTest]
public sealed class ApiContractTests(ClassApi api) : IClassFixture<ClassApi>
{
    // One API and database for the class: each test reads back only the jobs it submitted (its own user ids, job
    // ids and idempotency keys), so the others' rows change nothing it asserts.
    private readonly ApiFactory _api = api.Api;
    private readonly HttpClient _client = api.Caller;
    private readonly HttpClient _admin = api.Admin;
    private readonly string _postgres = api.Postgres;

    [Fact]
    public async Task MissingOrWrongKeyIs401AndBothHeadersAuthenticate()
    {
        var ct = TestContext.Current.CancellationToken;
        using var anonymous = _api.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/jobs", ct)).StatusCode);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/v1/jobs");
        wrong.Headers.Add("X-API-Key", "not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrong, ct)).StatusCode);

        using var secret = new HttpRequestMessage(HttpMethod.Get, "/api/v1/jobs");
        secret.Headers.Add("X-API-Secret", TestEnvironment.CallerKey);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(secret, ct)).StatusCode);
    }

    [Fact]
    public async Task AdminRoutesNeedTheAdminKey()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(HttpStatusCode.Forbidden, (await _client.GetAsync("/api/v1/admin/usage", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync("/api/v1/admin/usage", ct)).StatusCode);
    }

    [Fact]
    public async Task RepeatedIdempotencyKeyReturnsTheOriginalAnswer()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = Guid.NewGuid().ToString();
        var first = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "A" }, user_id = "u-idem" }, key);
        var second = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "A" }, user_id = "u-idem" }, key);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(ct), await second.Content.ReadAsStringAsync(ct));
    }

    [Theory]
    [InlineData("""{"workflow_name": "no_such_workflow", "input_data": {}}""", "workflow_name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {}}""", "input_data.name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": 5}}""", "input_data.name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "priority": 11}""", "priority")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "webhook_url": "ftp://x"}""", "webhook_url")]
    [InlineData("""{"input_data": {"name": "x"}}""", "workflow_name")]
    public async Task InvalidSubmissionsAre400NamingTheField(string body, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await _client.PostAsync("/api/v1/workflow", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(problem!["errors"]!.AsObject().ContainsKey(field), $"expected an error for '{field}': {problem.ToJsonString()}");
    }

    [Fact]
    public async Task MalformedJsonIs400NamingTheField()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await _client.PostAsync("/api/v1/workflow",
            new StringContent("""{"workflow_name": "hello_transform", "priority": "high"}""", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal("priority", (string?)problem!["field"]);

        var truncated = await _client.PostAsync("/api/v1/workflow", new StringContent("{\"workflow_name\": ", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
    }

    [Fact]
    public async Task DeepOrOversizedBodiesAreRejectedWith4xx()
    {
        var ct = TestContext.Current.CancellationToken;
        var deep = new StringBuilder("""{"workflow_name": "hello_transform", "input_data": {"name": "x", "nested": """);
        for (var i = 0; i < 100; i++)
        {
            deep.Append("{\"a\": ");
        }

        deep.Append('1').Append('}', 100).Append("}}");
        var deepResponse = await _client.PostAsync("/api/v1/workflow", new StringContent(deep.ToString(), Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, deepResponse.StatusCode);

        var big = "{\"workflow_name\": \"hello_transform\", \"input_data\": {\"name\": \"" + new string('x', 2_000_000) + "\"}}";
        var bigResponse = await _client.PostAsync("/api/v1/workflow", new StringContent(big, Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bigResponse.StatusCode);
    }

    [Fact]
    public async Task AnotherUsersJobIs404()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "A" }, user_id = "owner-1" });
        var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/api/v1/status/{jobId}?user_id=owner-1", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/api/v1/status/{jobId}?user_id=someone-else", ct)).StatusCode);
        using var header = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{jobId}");
        header.Headers.Add("X-User-Id", "someone-else");
        Assert.Equal(HttpStatusCode.NotFound, (await _client.SendAsync(header, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.DeleteAsync($"/api/v1/workflow/{jobId}?user_id=someone-else", ct)).StatusCode);
    }

    [Fact]
    public async Task ListFiltersByStatusUserAndLimitResults()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = "lister-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 3; i++)
        {
            await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = $"n{i}" }, user_id = user, username = "lister", action = "list test" });
        }

        var all = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}", ct);
        Assert.Equal(3, (int)all!["total"]!);
        var first = all["jobs"]!.AsArray()[0]!;
        Assert.Equal("lister", (string?)first["username"]);
        Assert.Equal("list test", (string?)first["action"]);

        var two = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&limit_results=2", ct);
        Assert.Equal(2, two!["jobs"]!.AsArray().Count);

        foreach (var period in new[] { "Today", "7 Days", "30 Days" })
        {
            var recent = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&limit_results={Uri.EscapeDataString(period)}", ct);
            Assert.Equal(3, recent!["jobs"]!.AsArray().Count);
        }

        var queued = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&status_filter=queued", ct);
        Assert.Equal(3, (int)queued!["total"]!);
        var completed = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&status_filter=completed", ct);
        Assert.Equal(0, (int)completed!["total"]!);
    }

    [Fact]
    public async Task ListTotalIsExactUpToTheCountLimitThenALowerBound()
    {
        var ct = TestContext.Current.CancellationToken;
        // More jobs than the count limit, of one user, in the caller key's tenant (the tenant of a job it submitted);
        // rows written directly: 1,001 submissions would only test the submit path again. Five of them failed.
        var user = "counted-" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new Npgsql.NpgsqlConnection(_postgres))
        {
            await connection.OpenAsync(ct);
            await using var insert = new Npgsql.NpgsqlCommand("""
                INSERT INTO llm_workflow_jobs (celery_task_id, workflow_name, user_id, status, input_data, completed_at, tenant_id, created_at)
                SELECT gen_random_uuid()::text, 'hello_transform', $1, CASE WHEN i <= 5 THEN 'failed' ELSE 'completed' END, '{}', now(),
                       (SELECT tenant_id FROM llm_workflow_jobs WHERE id = $2), now() - i * interval '1 second'
                  FROM generate_series(1, $3) i
                """, connection);
            insert.Parameters.AddWithValue(user);
            insert.Parameters.AddWithValue(Guid.Parse((string)(await SubmitAndReadAsync(user))["job_id"]!));
            insert.Parameters.AddWithValue(LlmWorkflow.Api.Contracts.JobListCount.ExactUpTo + 1);
            await insert.ExecuteNonQueryAsync(ct);
        }

        // Limit + 2 jobs (the inserted ones and the submitted one): the count stops one past the limit, a lower bound.
        var limit = LlmWorkflow.Api.Contracts.JobListCount.ExactUpTo;
        var first = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}", ct);
        Assert.Equal((limit + 1, false, 50), ((int)first!["total"]!, (bool)first["total_exact"]!, first["jobs"]!.AsArray().Count));

        // Past the limit the count goes as far as the page asked for: the last page knows it is the last.
        var last = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&offset={limit}&limit=50", ct);
        Assert.Equal((limit + 2, true, 2), ((int)last!["total"]!, (bool)last["total_exact"]!, last["jobs"]!.AsArray().Count));

        var failed = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?user_id={user}&status_filter=failed", ct);
        Assert.Equal((5, true, 5), ((int)failed!["total"]!, (bool)failed["total_exact"]!, failed["jobs"]!.AsArray().Count));
    }

    private async Task<JsonObject> SubmitAndReadAsync(string user)
    {
        using var response = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "counted" }, user_id = user });
        return (await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!;
    }

    [Fact]
    public async Task ListSearchFindsJobsByIdPartUsernameAndUserIdAndFiltersByWorkflow()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Guid.NewGuid().ToString("N")[..10];
        var mine = new List<string>();
        object helloInput = new { name = "s" };
        object ticketInput = new { ticket_id = "T-1", customer_name = "Ada", customer_tier = "pro", subject = "s", message = "m" };
        foreach (var (workflow, input, username) in new[] { ("hello_transform", helloInput, $"Ada_{marker}"), ("hello_transform", helloInput, $"grace{marker}"), ("support_triage", ticketInput, $"Ada_{marker}") })
        {
            var response = await SubmitAsync(new { workflow_name = workflow, input_data = input, user_id = $"uid-{marker}-{mine.Count}", username });
            response.EnsureSuccessStatusCode();
            mine.Add((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!);
        }

        async Task<string[]> SearchAsync(string query) =>
            [.. (await _client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs?{query}", ct))!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!)];

        // Username, any case; "_" is a literal character, not a LIKE wildcard.
        Assert.Equal([mine[2], mine[0]], await SearchAsync($"search={Uri.EscapeDataString($"ada_{marker}".ToUpperInvariant())}"));
        Assert.Empty(await SearchAsync($"search={Uri.EscapeDataString($"Ada%{marker}")}"));
        Assert.Equal([mine[2], mine[1], mine[0]], await SearchAsync($"search=uid-{marker}"));
        Assert.Equal([mine[1], mine[0]], await SearchAsync($"search={marker}&workflow_name=hello_transform"));
        // The last 8 characters (the dashboard's short id) and a prefix of the id.
        Assert.Equal([mine[1]], await SearchAsync($"search={mine[1][^8..]}"));
        Assert.Equal([mine[1]], await SearchAsync($"search={mine[1][..^3].ToUpperInvariant()}"));
        Assert.Empty(await SearchAsync($"search={marker}&workflow_name=no_such_workflow"));
    }

    [Theory]
    [InlineData("limit_results=0", "limit_results")]
    [InlineData("limit_results=501", "limit_results")]
    [InlineData("limit_results=Yesterday", "limit_results")]
    [InlineData("status_filter=done", "status_filter")]
    [InlineData("limit=500", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("search=0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789x", "search")]
    [InlineData("workflow_name=0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789x", "workflow_name")]
    public async Task BadListParametersAre400WithValidValues(string query, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await _client.GetAsync($"/api/v1/jobs?{query}", ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        var message = string.Join(" ", problem!["errors"]![field]!.AsArray().Select(m => (string?)m));
        Assert.False(string.IsNullOrEmpty(message));
        if (field == "limit_results")
        {
            Assert.Contains("Today", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CancellingAQueuedJobCancelsItAndRetryRequeuesIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "C" } });
        var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

        Assert.Equal(HttpStatusCode.OK, (await _client.DeleteAsync($"/api/v1/workflow/{jobId}", ct)).StatusCode);
        var status = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{jobId}", ct);
        Assert.Equal("cancelled", (string?)status!["status"]);
        Assert.Equal(HttpStatusCode.Conflict, (await _client.DeleteAsync($"/api/v1/workflow/{jobId}", ct)).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/api/v1/jobs/{jobId}/retry", null, ct)).StatusCode);
        status = await _client.GetFromJsonAsync<JsonObject>($"/api/v1/status/{jobId}", ct);
        Assert.Equal("queued", (string?)status!["status"]);
        Assert.Equal(HttpStatusCode.Conflict, (await _client.PostAsync($"/api/v1/jobs/{jobId}/retry", null, ct)).StatusCode);
    }

    [Fact]
    public async Task BulkDeleteCancelsAQueuedJobFirstAndLeavesA410WithAStringStatus()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "D" }, webhook_url = "https://hooks.example.com/llm", webhook_secret = "s3cret" });
        var jobId = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!);
        var unknown = Guid.NewGuid();

        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/jobs/bulk") { Content = JsonContent.Create(new { job_ids = new[] { jobId, unknown } }) };
        var result = await (await _client.SendAsync(request, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);

        Assert.Equal(1, (int)result!["deleted"]!);
        Assert.Equal(unknown.ToString(), (string?)result["not_found"]![0]);

        // Cancelled first, as DELETE /workflow/{id} does: its workflow.cancelled event outlives the job, to be delivered.
        Assert.Equal("workflow.cancelled", await TestSql.ScalarAsync(_postgres,
            "SELECT event_type FROM llm_webhook_attempts WHERE job_id = @id AND state = 'pending'", ct, ("id", jobId)));
        Assert.Equal(0L, Convert.ToInt64(await TestSql.ScalarAsync(_postgres, "SELECT count(*) FROM llm_workflow_jobs WHERE id = @id", ct, ("id", jobId))));

        foreach (var route in new[] { $"/api/v1/status/{jobId}", $"/api/v1/jobs/{jobId}" })
        {
            using var gone = await _client.GetAsync(route, ct);
            Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
            Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
            var body = (await gone.Content.ReadFromJsonAsync<JsonObject>(ct))!;
            Assert.Equal("failed", body["status"]!.GetValue<string>());
            Assert.Equal(410, (int)body["http_status"]!);
            Assert.Equal("job_deleted", (string?)body["error"]!["type"]);
            Assert.Contains("was deleted", (string?)body["error_message"], StringComparison.Ordinal);
            Assert.NotNull(body["deleted_at"]);
        }

        Assert.Equal(HttpStatusCode.Gone, (await _client.DeleteAsync($"/api/v1/workflow/{jobId}", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await _client.PostAsync($"/api/v1/jobs/{jobId}/retry", null, ct)).StatusCode);

        // Never a job: 404, whose status is a string too.
        using var missing = await _client.GetAsync($"/api/v1/status/{unknown}", ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var notFound = (await missing.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        Assert.Equal("not_found", notFound["status"]!.GetValue<string>());
        Assert.Equal(404, (int)notFound["http_status"]!);
    }

    [Fact]
    public async Task ATombstoneIsSeenOnlyByWhoCouldSeeTheJobAndGoesWithRetention()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await SubmitAsync(new { workflow_name = "hello_transform", input_data = new { name = "T" }, user_id = "u-tomb" });
        var jobId = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!);
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/jobs/bulk") { Content = JsonContent.Create(new { job_ids = new[] { jobId } }) };
        Assert.Equal(1, (int)(await (await _client.SendAsync(request, ct)).Content.ReadFromJsonAsync<JsonObject>(ct))!["deleted"]!);

        // Another user of the tenant sees a missing job, not a deleted one.
        using var other = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/status/{jobId}");
        other.Headers.Add("X-User-Id", "someone-else");
        Assert.Equal(HttpStatusCode.NotFound, (await _client.SendAsync(other, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await _client.GetAsync($"/api/v1/status/{jobId}", ct)).StatusCode);

        // The retention run purges tombstones older than its period with the old jobs.
        await TestSql.ExecuteAsync(_postgres, "UPDATE llm_deleted_jobs SET deleted_at = now() - interval '400 days' WHERE job_id = @id", ct, ("id", jobId));
        Assert.Equal(HttpStatusCode.OK, (await _admin.PostAsync("/api/v1/admin/cleanup/old?days=365", null, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/api/v1/status/{jobId}", ct)).StatusCode);
    }

    [Fact]
    public async Task CatalogDiagramAndDryRunDescribeWorkflows()
    {
        var ct = TestContext.Current.CancellationToken;
        var catalog = await _client.GetFromJsonAsync<JsonArray>("/api/v1/workflows", ct);
        Assert.Contains(catalog!, w => (string?)w!["name"] == "hello_transform");

        var definition = await _client.GetFromJsonAsync<JsonObject>("/api/v1/workflows/hello_transform", ct);
        Assert.Equal("greet", (string?)definition!["steps"]![0]!["id"]);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/api/v1/workflows/nope", ct)).StatusCode);

        var diagram = await _client.GetStringAsync("/api/v1/workflows/hello_transform/diagram", ct);
        Assert.StartsWith("flowchart", diagram, StringComparison.Ordinal);
        Assert.Contains("Say hello", diagram, StringComparison.Ordinal);

        var plan = await (await _client.PostAsJsonAsync("/api/v1/workflow/validate",
            new { workflow_name = "hello_transform", input_data = new { name = "Ada" } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True((bool)plan!["is_valid"]!);
        Assert.Equal("greet", (string?)plan["steps"]![0]!["id"]);

        var invalid = await (await _client.PostAsJsonAsync("/api/v1/workflow/validate",
            new { workflow_name = "hello_transform", input_data = new { } }, ct)).Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.False((bool)invalid!["is_valid"]!);
        Assert.NotEmpty(invalid["input_problems"]!.AsArray());
    }

    [Fact]
    public async Task OpenApiDocumentDescribesAuthAndSwaggerUiIsServed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var anonymous = _api.CreateClient();
        var document = await anonymous.GetFromJsonAsync<JsonObject>("/openapi/v1.json", ct);
        Assert.Equal("header", (string?)document!["components"]!["securitySchemes"]!["ApiKey"]!["in"]);
        Assert.NotNull(document["paths"]!["/api/v1/workflow"]);
        Assert.All(document["paths"]!.AsObject(), path => Assert.All(path.Value!.AsObject(), operation =>
            Assert.False(string.IsNullOrEmpty((string?)operation.Value!["summary"]), $"{path.Key} {operation.Key} has no summary")));

        var ui = await anonymous.GetAsync("/docs/index.html", ct);
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("swagger", await ui.Content.ReadAsStringAsync(ct), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task OpenApiDocumentDescribesStepInputsAndAttemptHistory()
    {
        var ct = TestContext.Current.CancellationToken;
        using var anonymous = _api.CreateClient();
        var schemas = (await anonymous.GetFromJsonAsync<JsonObject>("/openapi/v1.json", ct))!["components"]!["schemas"]!;
        var step = schemas["JobStepResponse"]!["properties"]!;
        foreach (var property in new[] { "input", "rendered_prompt", "job_attempt" })
        {
            Assert.False(string.IsNullOrWhiteSpace((string?)step[property]?["description"]), $"JobStepResponse.{property} has no description");
        }

        Assert.Contains("[REDACTED]", (string?)step["input"]!["description"], StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace((string?)schemas["JobStatusResponse"]!["properties"]!["previous_attempts"]!["description"]));
        var attempt = schemas["JobAttemptSummary"]!["properties"]!.AsObject();
        Assert.Equal(["attempt", "status", "error_message", "error", "started_at", "completed_at", "duration_ms", "retried_at", "cost_usd"], attempt.Select(p => p.Key));
    }

    [Fact]
    public async Task HealthReportsDatabaseRedisAndWorkers()
    {
        var ct = TestContext.Current.CancellationToken;
        using var anonymous = _api.CreateClient();
        var health = await anonymous.GetFromJsonAsync<JsonObject>("/health", ct);
        var checks = health!["checks"]!.AsObject();
        Assert.Equal("Healthy", (string?)checks["database"]!["status"]);
        Assert.Equal("Healthy", (string?)checks["redis"]!["status"]);
        // No worker runs in this class: the service is usable (jobs queue) but degraded.
        Assert.Equal("Degraded", (string?)checks["workers"]!["status"]);
    }

    private Task<HttpResponseMessage> SubmitAsync(object body, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return _client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
