using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// Two tenants x two users against every route of the OpenAPI document, on a real API with real Postgres and Redis.
/// Routes that take a job id are probed generically (every intruder gets 404, or 403 on admin routes, and the job is
/// unchanged); routes without one need a named probe below, so a new route fails this test until it is covered.
/// </summary>
[IntegrationTest]
public sealed class TenantIsolationTests(TestServers servers) : IAsyncLifetime
{
    private const string KeyA = "key-app-a";
    private const string KeyB = "key-app-b";
    private const string KeyABoundToAlice = "key-app-a-alice";
    private const string KeyABoundToBob = "key-app-a-bob";
    private const string KeyASecond = "key-app-a-second";

    /// <summary>Routes that read only the shared workflow catalog or the service's health, which hold no tenant data.</summary>
    private static readonly HashSet<string> TenantNeutral =
    [
        "GET /api/v1/health",
        "GET /api/v1/workflows",
        "GET /api/v1/workflows/{name}",
        "GET /api/v1/workflows/{name}/diagram",
        "POST /api/v1/workflow/validate",
        "GET /generator/health",
    ];

    private static readonly string[] SubmitRoutes = ["POST /api/v1/workflow", "POST /api/v1/jobs"];

    /// <summary>Everyone who must not see alice's job in tenant app-a (configured keys, and database keys made at start).</summary>
    private Actor[] Intruders =>
    [
        new("other tenant, same user id", KeyB, "alice"),
        new("other tenant, no user", KeyB, null),
        new("other tenant, other user", KeyB, "bob"),
        new("same tenant, other user", KeyA, "bob"),
        new("same tenant, other user header, user_id query names the owner", KeyA, "bob", QueryUser: "alice"),
        new("key bound to bob", KeyABoundToBob, null),
        new("key bound to bob, X-User-Id and user_id name the owner", KeyABoundToBob, "alice", QueryUser: "alice"),
        new("database key of tenant app-b, as alice", _databaseKeyB, "alice"),
        new("database key of tenant app-a bound to bob, X-User-Id and user_id name the owner", _databaseKeyABoundToBob, "alice", QueryUser: "alice"),
    ];

    /// <summary>Callers that may see the job: its owner, a key bound to the owner, a second key sharing tenant app-a.</summary>
    private Actor[] Owners =>
    [
        new("owner", KeyA, "alice"),
        new("key bound to alice", KeyABoundToAlice, null),
        new("second key of tenant app-a, as alice", KeyASecond, "alice"),
        new("admin", TestEnvironment.AdminKey, null),
        new("database key of tenant app-a, as alice", _databaseKeyA, "alice"),
    ];

    /// <summary>Alice's schedule in tenant app-a, probed by the routes with a {scheduleId}.</summary>
    private string _scheduleId = Guid.Empty.ToString();
    private string _databaseKeyA = null!;
    private string _databaseKeyB = null!;
    private string _databaseKeyABoundToBob = null!;
    private ApiFactory _api = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TenantIsolationTests));
        _api = new ApiFactory(environment.Settings(new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:2:Name"] = "app-a",
            ["Auth:ApiKeys:2:Key"] = KeyA,
            ["Auth:ApiKeys:3:Name"] = "app-b",
            ["Auth:ApiKeys:3:Key"] = KeyB,
            ["Auth:ApiKeys:4:Name"] = "app-a-alice",
            ["Auth:ApiKeys:4:Key"] = KeyABoundToAlice,
            ["Auth:ApiKeys:4:Tenant"] = "app-a",
            ["Auth:ApiKeys:4:UserId"] = "alice",
            ["Auth:ApiKeys:5:Name"] = "app-a-bob",
            ["Auth:ApiKeys:5:Key"] = KeyABoundToBob,
            ["Auth:ApiKeys:5:Tenant"] = "app-a",
            ["Auth:ApiKeys:5:UserId"] = "bob",
            ["Auth:ApiKeys:6:Name"] = "app-a-second",
            ["Auth:ApiKeys:6:Key"] = KeyASecond,
            ["Auth:ApiKeys:6:Tenant"] = "app-a",
            ["Tenants:app-a:Budgets:PerUserDailyUsd"] = "1",
        }));
        _http = _api.CreateClient();
        _databaseKeyA = await CreateDatabaseKeyAsync("""{"name": "app-a-db", "tenant_id": "app-a"}""");
        _databaseKeyB = await CreateDatabaseKeyAsync("""{"name": "app-b-db", "tenant_id": "app-b"}""");
        _databaseKeyABoundToBob = await CreateDatabaseKeyAsync("""{"name": "app-a-db-bob", "tenant_id": "app-a", "user_id": "bob"}""");
    }

    /// <summary>A key stored in PostgreSQL through the admin route; its secret.</summary>
    private async Task<string> CreateDatabaseKeyAsync(string body)
    {
        using var response = await SendRawAsync(new Actor("admin", TestEnvironment.AdminKey, null), HttpMethod.Post, "/api/v1/admin/keys", body,
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!["api_key"]!;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task EveryDocumentedRouteKeepsTenantsAndUsersApart()
    {
        var ct = TestContext.Current.CancellationToken;
        var operations = await OpenApiOperations.LoadAsync(_http, ct);
        Assert.NotEmpty(operations);

        var idempotencyKey = "idem-" + Guid.NewGuid().ToString("N");
        var jobId = await SubmitAsync(new Actor("owner", KeyA, "alice"), "/api/v1/workflow", idempotencyKey, "alice", ct);
        _scheduleId = await TryCreateScheduleAsync(Owners[0], idempotencyKey, ct) ?? throw new Xunit.Sdk.XunitException("the owner's schedule was refused");
        var failures = new List<string>();
        var covered = new List<string>();

        // 1. Intruders on every route, before anything changes the job.
        foreach (var operation in operations)
        {
            if (operation.PathParameters.Contains("jobId") || operation.PathParameters.Contains("scheduleId"))
            {
                foreach (var intruder in Intruders)
                {
                    var status = await SendAsync(intruder, operation, jobId, ct);
                    var expected = operation.IsAdmin ? HttpStatusCode.Forbidden : HttpStatusCode.NotFound;
                    if (status != expected)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)status}, expected {(int)expected}");
                    }
                }
            }
            else if (operation.IsAdmin)
            {
                foreach (var intruder in Intruders)
                {
                    var status = await SendAsync(intruder, operation, jobId, ct);
                    if (status != HttpStatusCode.Forbidden)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)status}, expected 403");
                    }
                }
            }
            else if (operation.Key == "GET /api/v1/jobs")
            {
                foreach (var intruder in Intruders)
                {
                    if ((await ListAsync(intruder, null, ct)).Contains(jobId))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' lists the job");
                    }
                }
            }
            else if (SubmitRoutes.Contains(operation.Key))
            {
                foreach (var intruder in Intruders)
                {
                    var replayed = await TrySubmitAsync(intruder, operation.Path, idempotencyKey, "alice", ct);
                    if (replayed == jobId)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' replayed the owner's Idempotency-Key and got the owner's job");
                    }
                }
            }
            else if (operation.Key == "GET /api/v1/schedules")
            {
                foreach (var intruder in Intruders)
                {
                    if ((await ListSchedulesAsync(intruder, ct)).Contains(_scheduleId))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' lists the schedule");
                    }
                }
            }
            else if (operation.Key == "POST /api/v1/schedules")
            {
                foreach (var intruder in Intruders)
                {
                    if (await TryCreateScheduleAsync(intruder, idempotencyKey, ct) == _scheduleId)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' replayed the owner's Idempotency-Key and got the owner's schedule");
                    }
                }
            }
            else if (operation.Key == "DELETE /api/v1/jobs/bulk")
            {
                foreach (var intruder in Intruders)
                {
                    var deleted = await BulkDeleteAsync(intruder, jobId, ct);
                    if (deleted.Contains(jobId))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' deleted the job");
                    }
                }
            }
            else if (operation.Key == "GET /api/v1/workflows/{name}/versions")
            {
                // The owner's job is pinned to a version of hello_transform; an intruder counts only the jobs it can list
                // (its own submissions of the probes above), never the owner's.
                foreach (var intruder in Intruders)
                {
                    using var response = await SendRawAsync(intruder, HttpMethod.Get, "/api/v1/workflows/hello_transform/versions", null, ct);
                    var versions = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))?["versions"]?.AsArray() ?? [];
                    var visible = (await ListAsync(intruder, null, ct)).Count;
                    if (response.StatusCode != HttpStatusCode.OK || versions.Sum(v => (long)v!["job_count"]!) != visible)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)response.StatusCode}, counts the owner's job");
                    }
                }
            }
            else if (operation.Key == "GET /api/v1/workflows/{name}/versions/{hash}")
            {
                // The owner's version is the catalog's (public like the definition); an unknown one is 404 for everyone.
                using var owned = await SendRawAsync(Owners[0], HttpMethod.Get, $"/api/v1/jobs/{jobId}", null, ct);
                var hash = (string)(await owned.Content.ReadFromJsonAsync<JsonObject>(ct))!["definition_hash"]!;
                foreach (var intruder in Intruders)
                {
                    using var unknown = await SendRawAsync(intruder, HttpMethod.Get, $"/api/v1/workflows/hello_transform/versions/{new string('0', 64)}", null, ct);
                    using var current = await SendRawAsync(intruder, HttpMethod.Get, $"/api/v1/workflows/hello_transform/versions/{hash}", null, ct);
                    if (unknown.StatusCode != HttpStatusCode.NotFound || current.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)unknown.StatusCode} for an unknown version, {(int)current.StatusCode} for the current one");
                    }
                }
            }
            else if (operation.PathParameters.Contains("token"))
            {
                // Decision links: the signed token is the capability, whoever holds it; with a key but a made-up token, nothing.
                foreach (var intruder in Intruders)
                {
                    // The probe's JSON body meets the decision route's form-only 415 first; either answer tells nothing.
                    var status = await SendAsync(intruder, operation, jobId, ct);
                    if (status is not (HttpStatusCode.NotFound or HttpStatusCode.UnsupportedMediaType))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' with a made-up token: {(int)status}, expected 404 (or 415 for the JSON body)");
                    }
                }
            }
            else if (operation.Key is "POST /api/v1/workflows/{name}/pause" or "POST /api/v1/workflows/{name}/resume")
            {
                // Operator-scoped: a pause holds every tenant's jobs, so only admin keys may set or lift one.
                foreach (var intruder in Intruders)
                {
                    var status = await SendAsync(intruder, operation, jobId, ct);
                    if (status != HttpStatusCode.Forbidden)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)status}, expected 403");
                    }
                }
            }
            else if (operation.Key == "GET /api/v1/usage/budget")
            {
                // Always the caller's own tenant, and a user's budget only for the user the caller may act as.
                foreach (var intruder in Intruders)
                {
                    using var response = await SendRawAsync(intruder, HttpMethod.Get, "/api/v1/usage/budget", null, ct);
                    var budget = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonObject>(ct) : null;
                    var shown = budget?["budgets"]?.AsArray().Select(b => (string?)b!["scope"]).ToList() ?? [];
                    if (response.StatusCode != HttpStatusCode.OK || ((string?)budget?["tenant_id"] == "app-a" && (string?)budget["user_id"] == "alice")
                        || shown.Any(scope => scope!.Contains("user:alice", StringComparison.Ordinal)))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {(int)response.StatusCode}, showed alice's budget");
                    }
                }
            }
            else if (operation.Key == "POST /api/v1/jobs/retry")
            {
                foreach (var intruder in Intruders)
                {
                    var touched = await RetryByFilterAsync(intruder, ct);
                    if (touched.Contains(jobId))
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}' matched the owner's job");
                    }
                }
            }
            else if (operation.Path.StartsWith("/generator/", StringComparison.Ordinal) && !TenantNeutral.Contains(operation.Key))
            {
                // Document 004's surface: alice's project and run are invisible to every intruder, whose start of the same
                // project_id and chat_id is a run of its own (or refused), never alice's.
                _ownersRun ??= await StartProjectAsync(Owners[0], ct);
                foreach (var intruder in Intruders)
                {
                    if (await GeneratorProbeAsync(intruder, operation, _ownersRun, ct) is { } failure)
                    {
                        failures.Add($"{operation.Key} as '{intruder.Name}': {failure}");
                    }
                }

                foreach (var reader in Owners.Where(o => o.Key != TestEnvironment.AdminKey))
                {
                    using var status = await SendRawAsync(reader, HttpMethod.Get, "/generator/status/proj_123", null, ct);
                    var document = status.IsSuccessStatusCode ? await status.Content.ReadFromJsonAsync<JsonObject>(ct) : null;
                    if ((string?)document?["run_id"] != _ownersRun)
                    {
                        failures.Add($"GET /generator/status/{{projectId}} as '{reader.Name}': {(int)status.StatusCode}, expected alice's run");
                    }
                }
            }
            else if (!TenantNeutral.Contains(operation.Key))
            {
                failures.Add($"{operation.Key} has no tenant-isolation probe: add one to {nameof(TenantIsolationTests)}");
                continue;
            }

            covered.Add(operation.Key);
        }

        // 2. The job is untouched.
        var owner = Owners[0];
        using (var status = await SendRawAsync(owner, HttpMethod.Get, $"/api/v1/jobs/{jobId}", null, ct))
        {
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
            var job = await status.Content.ReadFromJsonAsync<JsonObject>(ct);
            Assert.Equal("queued", (string?)job!["status"]);
            Assert.Equal("alice", (string?)job["user_id"]);
        }

        // 3. Positive controls: whoever may see the job does (reads first, then the routes that change it).
        // The events route goes last: by then the job is cancelled, so its stream ends with the cancelled event.
        var ordered = operations.Where(o => o.PathParameters.Contains("jobId"))
            .OrderBy(o => o.Path.EndsWith("/events", StringComparison.Ordinal) ? 2 : o.Method == "DELETE" ? 1 : 0);
        foreach (var operation in ordered)
        {
            foreach (var actor in Owners)
            {
                if (operation.IsAdmin != (actor.Key == TestEnvironment.AdminKey) && operation.IsAdmin)
                {
                    continue;
                }

                var status = await SendAsync(actor, operation, jobId, ct);
                var allowed = operation.Method == "DELETE" && actor != Owners[0]
                    ? status is HttpStatusCode.OK or HttpStatusCode.Conflict
                    : status is not (HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
                      && (operation.IsAdmin || status != HttpStatusCode.NotFound);
                if (!allowed)
                {
                    failures.Add($"{operation.Key} as '{actor.Name}': {(int)status}, expected access");
                }
            }
        }

        // The schedule too: whoever may see it reads and changes it; its owner deletes it last.
        foreach (var operation in operations.Where(o => o.PathParameters.Contains("scheduleId") && o.Method != "DELETE"))
        {
            foreach (var actor in Owners)
            {
                var status = await SendAsync(actor, operation, jobId, ct);
                if (status is HttpStatusCode.NotFound or HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
                {
                    failures.Add($"{operation.Key} as '{actor.Name}': {(int)status}, expected access");
                }
            }

            covered.Add(operation.Key);
        }

        foreach (var actor in Owners)
        {
            if (!(await ListSchedulesAsync(actor, ct)).Contains(_scheduleId))
            {
                failures.Add($"GET /api/v1/schedules as '{actor.Name}' does not list the schedule");
            }
        }

        Assert.Equal(_scheduleId, await TryCreateScheduleAsync(Owners[0], idempotencyKey, ct));
        using (var deleted = await SendRawAsync(Owners[0], HttpMethod.Delete, $"/api/v1/schedules/{_scheduleId}", null, ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        foreach (var actor in Owners)
        {
            var query = actor.Key == TestEnvironment.AdminKey ? "tenant_id=app-a" : null;
            if (!(await ListAsync(actor, query, ct)).Contains(jobId))
            {
                failures.Add($"GET /api/v1/jobs as '{actor.Name}' does not list the job");
            }
        }

        Assert.DoesNotContain(jobId, await ListAsync(Owners[3], "tenant_id=app-b", ct));
        Assert.Equal(jobId, await SubmitAsync(Owners[1], "/api/v1/workflow", idempotencyKey, "someone-else", ct));
        Assert.Contains(jobId, await BulkDeleteAsync(Owners[0], jobId, ct));

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Contains("GET /api/v1/status/{jobId}", covered);
        Assert.Contains("GET /api/v1/jobs/{jobId}/events", covered);
        Assert.Contains("POST /api/v1/jobs/{jobId}/retry", covered);
        Assert.Contains("DELETE /api/v1/workflow/{jobId}", covered);
        Assert.Contains("PATCH /api/v1/jobs/{jobId}", covered);
        Assert.Contains("POST /api/v1/jobs/{jobId}/signals/{event}", covered);
        Assert.Contains("GET /api/v1/jobs/{jobId}/signals", covered);
        Assert.Contains("GET /api/v1/schedules", covered);
        Assert.Contains("POST /api/v1/schedules", covered);
        Assert.Contains("GET /api/v1/schedules/{scheduleId}", covered);
        Assert.Contains("PATCH /api/v1/schedules/{scheduleId}", covered);
        Assert.Contains("DELETE /api/v1/schedules/{scheduleId}", covered);
        Assert.Contains("GET /api/v1/schedules/{scheduleId}/ticks", covered);
        Assert.Contains("POST /api/v1/jobs/{jobId}/fork", covered);
        Assert.Contains("GET /api/v1/jobs/{jobId}/compare/{otherId}", covered);
        Assert.Contains("GET /api/v1/workflows/{name}/versions", covered);
        Assert.Contains("GET /api/v1/workflows/{name}/versions/{hash}", covered);
        Assert.Contains("GET /approvals/{token}", covered);
        Assert.Contains("POST /approvals/{token}", covered);
    }

    [Fact]
    public async Task AKeyBoundToAUserSubmitsAsThatUserWhateverTheBodySays()
    {
        var ct = TestContext.Current.CancellationToken;
        var jobId = await SubmitAsync(new Actor("bound", KeyABoundToBob, null), "/api/v1/workflow", null, "mallory", ct);
        using var response = await SendRawAsync(new Actor("bound", KeyABoundToBob, null), HttpMethod.Get, $"/api/v1/jobs/{jobId}", null, ct);
        var job = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.Equal("bob", (string?)job!["user_id"]);
        Assert.DoesNotContain(jobId, await ListAsync(new Actor("mallory", KeyA, "mallory"), null, ct));
        Assert.Contains(jobId, await ListAsync(new Actor("bob", KeyA, "bob"), null, ct));
    }

    private const string ProjectStart = """{"project_id": "proj_123", "chat_id": "chat_456", "topic": "Fractions", "life_skill": "Problem Solving", "group_size": 3, "duration_min": 45}""";

    private string? _ownersRun;

    private async Task<string> StartProjectAsync(Actor actor, CancellationToken ct)
    {
        using var response = await SendRawAsync(actor, HttpMethod.Post, "/generator/start", ProjectStart, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["run_id"]!;
    }

    /// <summary>Null when the intruder learns nothing of alice's project run; else what it got.</summary>
    private async Task<string?> GeneratorProbeAsync(Actor intruder, OpenApiOperation operation, string ownersRun, CancellationToken ct)
    {
        (HttpMethod Method, string Path, string? Body) probe = operation.Key switch
        {
            "POST /generator/start" => (HttpMethod.Post, "/generator/start", ProjectStart),
            "GET /generator/events/stream" => (HttpMethod.Get, $"/generator/events/stream?run_id={ownersRun}", null),
            _ => (new HttpMethod(operation.Method), operation.Fill(new Dictionary<string, string> { ["projectId"] = "proj_123" }), null),
        };
        using var response = await SendRawAsync(intruder, probe.Method, probe.Path, probe.Body, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        // An intruder that started the same project_id itself reads its own run; it must never get alice's.
        return operation.Key == "GET /generator/events/stream"
            ? response.StatusCode == HttpStatusCode.NotFound ? null : $"{(int)response.StatusCode}, expected 404"
            : text.Contains(ownersRun, StringComparison.Ordinal) ? $"{(int)response.StatusCode} with alice's run" : null;
    }

    private async Task<HttpStatusCode> SendAsync(Actor actor, OpenApiOperation operation, string jobId, CancellationToken ct)
    {
        // Key routes are admin routes: any key id shows whether a non-admin is refused.
        var path = operation.Fill(new Dictionary<string, string> { ["jobId"] = jobId, ["name"] = "hello_transform", ["keyId"] = Guid.NewGuid().ToString(), ["event"] = "approval", ["scheduleId"] = _scheduleId, ["otherId"] = jobId, ["hash"] = new string('0', 64), ["token"] = "CfDJ8made-up-token", ["projectId"] = "proj_123" });
        var body = operation.HasBody ? "{}" : null;
        if (operation.Key == "POST /api/v1/admin/webhooks/replay")
        {
            path += "?since=2026-01-01T00:00:00Z";
        }

        using var response = await SendRawAsync(actor, new HttpMethod(operation.Method), path, body, ct);
        return response.StatusCode;
    }

    private async Task<HttpResponseMessage> SendRawAsync(Actor actor, HttpMethod method, string path, string? body, CancellationToken ct)
    {
        if (actor.QueryUser is { } queryUser)
        {
            path += (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "user_id=" + Uri.EscapeDataString(queryUser);
        }

        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-API-Key", actor.Key);
        if (actor.HeaderUser is { } headerUser)
        {
            request.Headers.Add("X-User-Id", headerUser);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        // Headers only: the events route streams until the job ends.
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    private async Task<string> SubmitAsync(Actor actor, string path, string? idempotencyKey, string userId, CancellationToken ct) =>
        await TrySubmitAsync(actor, path, idempotencyKey, userId, ct)
        ?? throw new Xunit.Sdk.XunitException($"submit as '{actor.Name}' was refused");

    /// <summary>Submits a job; the job id, or null when the API refused the request with a 4xx.</summary>
    private async Task<string?> TrySubmitAsync(Actor actor, string path, string? idempotencyKey, string userId, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["workflow_name"] = "hello_transform",
            ["input_data"] = new JsonObject { ["name"] = "isolation" },
            ["user_id"] = userId,
        }.ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-API-Key", actor.Key);
        if (actor.HeaderUser is { } headerUser)
        {
            request.Headers.Add("X-User-Id", headerUser);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode || (int)response.StatusCode is >= 400 and < 500, $"submit as '{actor.Name}': {(int)response.StatusCode} {text}");
        return response.IsSuccessStatusCode ? (string?)JsonNode.Parse(text)!["job_id"] : null;
    }

    /// <summary>Creates an hourly schedule; its id, or null when the API refused the request with a 4xx.</summary>
    private async Task<string?> TryCreateScheduleAsync(Actor actor, string idempotencyKey, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["name"] = "isolation",
            ["workflow_name"] = "hello_transform",
            ["cron"] = "0 * * * *",
            ["input_data"] = new JsonObject { ["name"] = "isolation" },
        }.ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/schedules") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-API-Key", actor.Key);
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (actor.HeaderUser is { } headerUser)
        {
            request.Headers.Add("X-User-Id", headerUser);
        }

        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode || (int)response.StatusCode is >= 400 and < 500, $"schedule as '{actor.Name}': {(int)response.StatusCode} {text}");
        return response.IsSuccessStatusCode ? (string?)JsonNode.Parse(text)!["schedule_id"] : null;
    }

    private async Task<List<string>> ListSchedulesAsync(Actor actor, CancellationToken ct)
    {
        using var response = await SendRawAsync(actor, HttpMethod.Get, "/api/v1/schedules?limit=200", null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        return page!["schedules"]!.AsArray().Select(j => (string)j!["schedule_id"]!).ToList();
    }

    private async Task<List<string>> ListAsync(Actor actor, string? query, CancellationToken ct)
    {
        using var response = await SendRawAsync(actor, HttpMethod.Get, "/api/v1/jobs?limit=200" + (query is null ? "" : "&" + query), null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        return page!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).ToList();
    }

    private async Task<List<string>> BulkDeleteAsync(Actor actor, string jobId, CancellationToken ct)
    {
        using var response = await SendRawAsync(actor, HttpMethod.Delete, "/api/v1/jobs/bulk",
            new JsonObject { ["job_ids"] = new JsonArray(jobId) }.ToJsonString(), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        return result!["deleted_job_ids"]!.AsArray().Select(j => (string)j!).ToList();
    }

    /// <summary>The ids a dry-run retry by filter of failed or cancelled hello_transform jobs matches for <paramref name="actor"/>.</summary>
    private async Task<List<string>> RetryByFilterAsync(Actor actor, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["filter"] = new JsonObject { ["status"] = new JsonArray("failed", "cancelled"), ["workflow_name"] = "hello_transform" },
            ["dry_run"] = true,
        };
        using var response = await SendRawAsync(actor, HttpMethod.Post, "/api/v1/jobs/retry", body.ToJsonString(), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        return result!["job_ids"]!.AsArray().Select(j => (string)j!).ToList();
    }

    /// <summary>A caller: its key, the X-User-Id it sends, and a user_id query parameter it adds.</summary>
    private sealed record Actor(string Name, string Key, string? HeaderUser, string? QueryUser = null);
}
