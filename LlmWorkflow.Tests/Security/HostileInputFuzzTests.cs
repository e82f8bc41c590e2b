using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// A bounded fuzz run over every route of the OpenAPI document against the real API (real Postgres and Redis):
/// NUL and lone surrogates in path, query, headers and body; duplicate keys; huge and odd numbers; odd content
/// types; deep nesting; a 10 MB body; bad headers. The service must answer every request below 500 and stay healthy.
/// The inputs are a fixed list (no randomness), so a failure names a reproducible request.
/// </summary>
[IntegrationTest]
public sealed class HostileInputFuzzTests(HostileInputFuzzTests.KestrelApi api) : IClassFixture<HostileInputFuzzTests.KestrelApi>, IDisposable
{
    /// <summary>Query and header values as they go on the wire (already escaped): NUL, invalid UTF-8, overflows, odd dates.</summary>
    private static readonly string[] HostileQueryValues =
    [
        "%00", "a%00b", "%ED%A0%80", "%FF%FE", "%C0%AF", "2147483647", "-2147483648", "2147483648", "99999999999999999999",
        "-1", "0", "1e309", "NaN", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-infinity", "2026-13-45", "",
        new string('9', 400), "%22%5C", "true", "Today%00",
    ];

    private static readonly string[] HostileHeaderValues =
    [
        "0", "abc", "-1", "1-2-3", "18446744073709551616-0", "99999999999999999999999-0", "$", ">", "+", "0-18446744073709551616",
        new string('1', 300), "1732200000000-0", "\u00e9\u00e8", "a\u0000b",
    ];

    private static readonly string[] ContentTypes =
    [
        "application/json; charset=", "application/json; charset=latin1", "application/json; charset=\"\"", "application/json;;;",
        "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/json; charset=utf-16",
        "*/*", "application/merge-patch+json", "application/json; charset=utf-8; charset=ascii",
    ];

    /// <summary>One shared 10 MB body (ten times the API's limit).</summary>
    private static readonly Lazy<byte[]> TenMegabyteBody = new(() =>
        Encoding.UTF8.GetBytes("{\"workflow_name\": \"hello_transform\", \"input_data\": {\"name\": \"" + new string('x', 10 * 1024 * 1024) + "\"}}"));

    // A client without a key: each request carries the key it needs.
    private readonly HttpClient _http = api.Api.CreateClient();

    /// <summary>
    /// One API for the class: the fuzz run must leave the service healthy and accepting jobs (it asserts so), and the
    /// other tests send requests that are refused before they write anything or read only the job they submitted.
    /// </summary>
    public sealed class KestrelApi(TestServers servers) : ClassApi(servers)
    {
        protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?> { ["Api:MaxRequestBodyBytes"] = "1048576" };

        // Real Kestrel on a loopback port, so requests go through the same HTTP parser as in production.
        protected override void Configure(ApiFactory api)
        {
            api.UseKestrel(0);
            api.StartServer();
        }
    }

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task NoDocumentedRouteAnswersHostileInputWith5xxAndTheServiceStaysHealthy()
    {
        var ct = TestContext.Current.CancellationToken;
        var operations = await OpenApiOperations.LoadAsync(_http, ct);
        // Two cancelled jobs: the retry route may queue the first again, the events route reads the second (which
        // stays finished, so its stream ends at once).
        var jobId = await SubmitCancelledJobAsync(ct);
        var eventsJobId = await SubmitCancelledJobAsync(ct);
        var keyId = await CreateDatabaseKeyAsync(ct);
        var scheduleId = await CreateScheduleAsync(ct);
        var requests = operations
            .SelectMany(o => Variants(o, o.Path.EndsWith("/events", StringComparison.Ordinal) ? eventsJobId : jobId, keyId, scheduleId))
            .ToList();

        var stopwatch = Stopwatch.StartNew();
        var serverErrors = new ConcurrentBag<string>();
        var sent = 0;
        await Parallel.ForEachAsync(requests,
            new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = ct },
            async (request, token) =>
            {
                // Admin routes with the admin key, so the input reaches the handlers instead of stopping at 403.
                var key = request.PathAndQuery.StartsWith("/api/v1/admin", StringComparison.Ordinal) || request.PathAndQuery.StartsWith("/api/v1/providers", StringComparison.Ordinal)
                    ? TestEnvironment.AdminKey
                    : TestEnvironment.CallerKey;
                try
                {
                    var status = await SendAsync(request, key, token);
                    if ((int)status >= 500)
                    {
                        serverErrors.Add($"{(int)status} {request.Describe()}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    // A connection the server dropped without an answer is a server failure too.
                    serverErrors.Add($"no response ({ex.InnerException?.Message ?? ex.Message}) {request.Describe()}");
                }

                Interlocked.Increment(ref sent);
            });

        TestContext.Current.TestOutputHelper?.WriteLine($"fuzz: {sent} requests over {operations.Count} operations in {stopwatch.Elapsed.TotalSeconds:F1} s");
        Assert.True(sent >= 2000, $"only {sent} requests were generated");
        Assert.True(serverErrors.IsEmpty, $"{serverErrors.Count} x 5xx:\n" + string.Join("\n", serverErrors.Take(40)));

        var health = await _http.GetFromJsonAsync<JsonObject>("/health", ct);
        Assert.Equal("Healthy", (string?)health!["checks"]!["database"]!["status"]);
        Assert.Equal("Healthy", (string?)health["checks"]!["redis"]!["status"]);
        using var valid = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
        {
            Content = JsonContent.Create(new { workflow_name = "hello_transform", input_data = new { name = "after the fuzz" } }),
        };
        valid.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        Assert.Equal(HttpStatusCode.Accepted, (await _http.SendAsync(valid, ct)).StatusCode);
    }

    [Theory]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "a\u0000b"}}""", "input_data.name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "\ud800"}}""", "input_data.name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x", "k\u0000": 1}}""", "input_data.k\\u0000")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x", "name": "y"}}""", "input_data.name")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "user_id": "\u0000"}""", "user_id")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "webhook_secret": "s\u0000"}""", "webhook_secret")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}, "budget_usd": 10000}""", "budget_usd")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"name": "x", "n": 1e400}}""", "input_data.n")]
    [InlineData("""{"workflow_name": "hello_transform", "input_data": {"list": ["ok", "\udfff"]}}""", "input_data.list[]")]
    public async Task HostileBodiesAre400NamingTheField(string body, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var problem = JsonNode.Parse(text)!.AsObject();
        var named = (string?)problem["field"] == field || problem["errors"]?.AsObject().ContainsKey(field) == true;
        Assert.True(named, $"expected the problem to name '{field}': {text}");
    }

    [Theory]
    [InlineData("/api/v1/admin/cleanup/old?days=2147483647", "days")]
    [InlineData("/api/v1/admin/cleanup/stale?waiting_hours=2147483647", "waiting_hours")]
    [InlineData("/api/v1/admin/cleanup/stale?processing_minutes=0", "processing_minutes")]
    public async Task AdminOverflowsAre400(string path, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Add("X-API-Key", TestEnvironment.AdminKey);
        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Contains(field, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageBeforeYear2000AndAnInvalidLastEventIdAre400()
    {
        var ct = TestContext.Current.CancellationToken;
        using var usage = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/usage?to=0001-01-01T00:00:00Z");
        usage.Headers.Add("X-API-Key", TestEnvironment.AdminKey);
        Assert.Equal(HttpStatusCode.BadRequest, (await _http.SendAsync(usage, ct)).StatusCode);

        var jobId = await SubmitCancelledJobAsync(ct);
        using var events = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{jobId}/events");
        events.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        events.Headers.TryAddWithoutValidation("Last-Event-ID", "not-an-id");
        using var response = await _http.SendAsync(events, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("last_event_id", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEmptyCharsetIs415NotA500()
    {
        var ct = TestContext.Current.CancellationToken;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
        {
            Content = new ByteArrayContent("""{"workflow_name": "hello_transform", "input_data": {"name": "x"}}"""u8.ToArray()),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=");
        request.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        using var response = await _http.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    private async Task<string> SubmitCancelledJobAsync(CancellationToken ct)
    {
        using var submit = new HttpRequestMessage(HttpMethod.Post, "/api/v1/workflow")
        {
            Content = JsonContent.Create(new { workflow_name = "hello_transform", input_data = new { name = "fuzz" } }),
        };
        submit.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        using var response = await _http.SendAsync(submit, ct);
        var jobId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;

        // Cancelled, so its event stream ends at once instead of waiting for a worker.
        using var cancel = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/workflow/{jobId}");
        cancel.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(cancel, ct)).StatusCode);
        return jobId;
    }

    private async Task<HttpStatusCode> SendAsync(FuzzRequest fuzz, string key, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        if (fuzz.Headers.Any(h => h.Value.Any(c => c is < ' ' or > '~')))
        {
            // HttpClient will not send control or non-ASCII characters in headers; a hostile client will.
            return await RawHttp.SendAsync(_http.BaseAddress!, fuzz.Method, fuzz.PathAndQuery, [("X-API-Key", key), .. fuzz.Headers],
                fuzz.Body, fuzz.ContentType, timeout.Token);
        }

        using var request = new HttpRequestMessage(new HttpMethod(fuzz.Method), fuzz.PathAndQuery);
        request.Headers.Add("X-API-Key", key);

        // One connection per request: Kestrel closes a connection after refusing a body it did not read, and a pooled
        // connection reused in that moment would fail on the client's side, not the server's.
        request.Headers.ConnectionClose = true;
        foreach (var (name, value) in fuzz.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (fuzz.Body is not null)
        {
            request.Content = new ByteArrayContent(fuzz.Body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", fuzz.ContentType ?? "application/json");
        }

        // An oversized body (10 MB) is read and discarded before its 413 (BodySizeLimit), so the answer always arrives.
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        return response.StatusCode;
    }

    private static IEnumerable<FuzzRequest> Variants(OpenApiOperation operation, string jobId, string keyId, string scheduleId)
    {
        var validPath = new Dictionary<string, string>
        {
            ["jobId"] = jobId, ["name"] = "hello_transform", ["keyId"] = keyId, ["event"] = "approval", ["scheduleId"] = scheduleId, ["otherId"] = jobId, ["hash"] = new string('0', 64), ["token"] = "CfDJ8made-up-token", ["projectId"] = "proj_123",
        };
        var basePath = operation.Fill(validPath);
        var validBody = operation.HasBody ? ValidBody(operation) : null;

        // Path parameters, as they go on the wire.
        foreach (var parameter in operation.PathParameters)
        {
            foreach (var text in HostileQueryValues.Where(v => v.Length > 0).Concat([Guid.NewGuid().ToString(), "00000000-0000-0000-0000-000000000000", "..%2F..%2Fetc", "%2E%2E"]))
            {
                var values = new Dictionary<string, string>(validPath) { [parameter] = text };
                yield return new FuzzRequest(operation.Method, operation.Fill(values, escaped: true), [], validBody, null);
            }
        }

        // Query parameters: each documented one, plus user_id (read by the tenant scope on every route).
        foreach (var name in operation.Query.Select(p => p.Name).Append("user_id").Distinct())
        {
            foreach (var value in HostileQueryValues)
            {
                yield return new FuzzRequest(operation.Method, $"{basePath}?{name}={value}", [], validBody, null);
            }
        }

        // Headers: each documented one, plus the ones every route reads.
        foreach (var name in operation.Headers.Select(h => h.Name).Concat(["X-User-Id", "Idempotency-Key", "Last-Event-ID"]).Distinct())
        {
            foreach (var value in HostileHeaderValues)
            {
                yield return new FuzzRequest(operation.Method, basePath, [(name, value)], validBody, null);
            }
        }

        if (operation.Method is "GET")
        {
            yield break;
        }

        // Bodies, on every route that is not a GET (routes without a body must ignore or refuse one, never fail).
        foreach (var body in HostileBodies(validBody ?? "{}"))
        {
            yield return new FuzzRequest(operation.Method, basePath, [], body, null);
        }

        foreach (var contentType in ContentTypes)
        {
            yield return new FuzzRequest(operation.Method, basePath, [], Encoding.UTF8.GetBytes(validBody ?? "{}"), contentType);
        }
    }

    private static string ValidBody(OpenApiOperation operation) => operation.Path switch
    {
        _ when operation.Path.Contains("bulk", StringComparison.Ordinal) => """{"job_ids": ["00000000-0000-0000-0000-000000000001"]}""",
        _ when operation.Path.Contains("/schedules", StringComparison.Ordinal) =>
            """{"name": "fuzz", "workflow_name": "hello_transform", "cron": "*/5 * * * *", "timezone": "Europe/Berlin", "input_data": {"name": "fuzz"}, "overlap": "allow", "catch_up": "all", "priority": 1}""",
        _ when operation.Path.Contains("/admin/keys", StringComparison.Ordinal) =>
            """{"name": "fuzz", "tenant_id": "fuzz", "role": "caller", "user_id": "u", "expires_at": "2030-01-01T00:00:00Z"}""",
        _ => """{"workflow_name": "hello_transform", "input_data": {"name": "fuzz"}, "user_id": "u", "username": "n", "action": "a", "priority": 1}""",
    };

    /// <summary>A schedule whose id the schedule routes are fuzzed with (changed and deleted along the way).</summary>
    private async Task<string> CreateScheduleAsync(CancellationToken ct)
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/schedules")
        {
            Content = JsonContent.Create(new { name = "fuzz-target", workflow_name = "hello_transform", cron = "0 * * * *", input_data = new { name = "fuzz" } }),
        };
        create.Headers.Add("X-API-Key", TestEnvironment.CallerKey);
        using var response = await _http.SendAsync(create, ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["schedule_id"]!;
    }

    /// <summary>A database key whose id the key routes are fuzzed with (rotated and revoked along the way).</summary>
    private async Task<string> CreateDatabaseKeyAsync(CancellationToken ct)
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/keys") { Content = JsonContent.Create(new { name = "fuzz-target" }) };
        create.Headers.Add("X-API-Key", TestEnvironment.AdminKey);
        using var response = await _http.SendAsync(create, ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["key"]!["id"]!;
    }

    private static IEnumerable<byte[]> HostileBodies(string valid)
    {
        var template = JsonNode.Parse(valid)!.AsObject();
        foreach (var field in template.Select(p => p.Key).Append("input_data").Append("webhook_secret").Append("webhook_url").Distinct().ToList())
        {
            foreach (var escaped in new[] { "\\u0000", "a\\u0000", "\\ud800", "\\udc00x", "\\ud83d\\u0000" })
            {
                yield return Encoding.UTF8.GetBytes(Replace(template, field, $"\"{escaped}\""));
                yield return Encoding.UTF8.GetBytes(Replace(template, field, $"{{\"k{escaped}\": \"{escaped}\"}}"));
            }

            foreach (var number in new[] { "1e400", "-1e400", "10000", "9999.9999999", "2147483648", "-2147483649", "1e-400", "0.0000000000000000000001", "123456789012345678901234567890" })
            {
                yield return Encoding.UTF8.GetBytes(Replace(template, field, number));
            }

            foreach (var odd in new[] { "null", "[]", "{}", "true", "\"\"", "[null]", "{\"a\":1,\"a\":2}" })
            {
                yield return Encoding.UTF8.GetBytes(Replace(template, field, odd));
            }
        }

        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"workflow_name\": \"hello_transform\"}");
        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"budget_usd\": 10000}");
        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"budget_usd\": 1e30}");
        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"priority\": 99999999999}");
        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"webhook_events\": [\"\\u0000\"]}");
        yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"webhook_url\": \"http://169.254.169.254/latest/meta-data\"}");
        foreach (var depth in new[] { 31, 33, 64, 1000, 100_000 })
        {
            yield return Encoding.UTF8.GetBytes(valid[..^1] + ", \"input_data\": " + new string('[', depth) + new string(']', depth) + "}");
        }

        yield return TenMegabyteBody.Value;
        yield return [0xFF, 0xFE, 0x00, 0x7B];
        yield return Encoding.UTF8.GetBytes("{\"workflow_name\": \"hello_\u00ff\u0000\"");
        yield return [];
        yield return "null"u8.ToArray();
        yield return "[]"u8.ToArray();
        yield return "\"text\""u8.ToArray();
        yield return Encoding.UTF8.GetBytes(valid + valid);
    }

    /// <summary>The template with one field's value replaced by raw JSON text (which may be invalid on purpose).</summary>
    private static string Replace(JsonObject template, string field, string rawValue)
    {
        var copy = template.DeepClone().AsObject();
        copy[field] = "__FUZZ__";
        return copy.ToJsonString().Replace("\"__FUZZ__\"", rawValue, StringComparison.Ordinal);
    }

    private sealed record FuzzRequest(string Method, string PathAndQuery, (string Name, string Value)[] Headers, byte[]? Body, string? ContentType)
    {
        public FuzzRequest(string method, string pathAndQuery, (string Name, string Value)[] headers, string? body, string? contentType)
            : this(method, pathAndQuery, headers, body is null ? null : Encoding.UTF8.GetBytes(body), contentType)
        {
        }

        public string Describe()
        {
            var body = Body is null ? "" : " body=" + (Body.Length > 200 ? $"<{Body.Length} bytes>" : Encoding.UTF8.GetString(Body));
            var headers = string.Concat(Headers.Select(h => $" [{h.Name}: {h.Value[..Math.Min(h.Value.Length, 60)]}]"));
            return $"{Method} {PathAndQuery[..Math.Min(PathAndQuery.Length, 200)]}{headers} ct={ContentType}{body}";
        }
    }
}
