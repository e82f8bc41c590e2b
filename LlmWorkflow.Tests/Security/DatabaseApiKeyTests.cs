using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// API keys stored in PostgreSQL (<c>/api/v1/admin/keys</c>) against the real API on a real database: each key is a
/// tenant of its own (or shares the one it names), a key bound to a user is that user, rotation overlaps, revocation,
/// no secret in answers, rows or logs, and only admin keys manage keys. Expiry is reached by moving the API's clock.
/// </summary>
[IntegrationTest]
public sealed class DatabaseApiKeyTests(TestServers servers) : IAsyncLifetime
{
    private readonly ShiftedClock _clock = new();
    private readonly CapturingLoggerProvider _logs = new();
    private TestEnvironment _environment = null!;
    private ApiFactory _factory = null!;
    private WebApplicationFactory<LlmWorkflow.Api.ApiAssembly> _api = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        _environment = await TestEnvironment.CreateAsync(servers, nameof(DatabaseApiKeyTests));
        (_factory, _api) = StartApi(_clock, _logs);
        _http = _api.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _api.DisposeAsync();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task ACreatedKeyAuthenticatesAsItsOwnTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await CreateKeyAsync(new JsonObject { ["name"] = "reports-app" }, ct);
        var second = await CreateKeyAsync(new JsonObject { ["name"] = "billing-app" }, ct);
        Assert.Equal("reports-app", (string?)first.Key["tenant_id"]);
        Assert.Equal("caller", (string?)first.Key["role"]);
        Assert.StartsWith("lwk_", first.Secret, StringComparison.Ordinal);
        Assert.StartsWith((string)first.Key["prefix"]!, first.Secret, StringComparison.Ordinal);

        var firstJob = await SubmitAsync(first.Secret, null, ct);
        var secondJob = await SubmitAsync(second.Secret, null, ct);
        var configJob = await SubmitAsync(TestEnvironment.CallerKey, null, ct);

        // Each sees its own job and nothing else, on reads and lists.
        foreach (var (key, own, others) in new[]
                 {
                     (first.Secret, firstJob, new[] { secondJob, configJob }),
                     (second.Secret, secondJob, new[] { firstJob, configJob }),
                     (TestEnvironment.CallerKey, configJob, new[] { firstJob, secondJob }),
                 })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(key, HttpMethod.Get, $"/api/v1/jobs/{own}", ct));
            var listed = await ListAsync(key, "", ct);
            Assert.Contains(own, listed);
            foreach (var other in others)
            {
                Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(key, HttpMethod.Get, $"/api/v1/jobs/{other}", ct));
                Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(key, HttpMethod.Delete, $"/api/v1/workflow/{other}", ct));
                Assert.DoesNotContain(other, listed);
            }
        }

        // The jobs are stored under the keys' tenants: an admin filtering by tenant finds exactly them.
        Assert.Equal([firstJob], await ListAsync(TestEnvironment.AdminKey, "&tenant_id=reports-app", ct));
        Assert.Equal([secondJob], await ListAsync(TestEnvironment.AdminKey, "&tenant_id=billing-app", ct));

        // A key naming a configured key's tenant shares it (how an application moves from configuration to the database).
        var shared = await CreateKeyAsync(new JsonObject { ["name"] = "tests-next", ["tenant_id"] = "tests" }, ct);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(shared.Secret, HttpMethod.Get, $"/api/v1/jobs/{configJob}", ct));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(shared.Secret, HttpMethod.Get, $"/api/v1/jobs/{firstJob}", ct));

        // EventSource sends the key as ?api_key=: a database key works there too, for its own tenant only.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(first.Secret, HttpMethod.Delete, $"/api/v1/workflow/{firstJob}", ct));
        using (var events = await _http.GetAsync($"/api/v1/jobs/{firstJob}/events?api_key={first.Secret}", ct))
        {
            Assert.Equal(HttpStatusCode.OK, events.StatusCode);
            Assert.Contains("event: cancelled", await events.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }

        using (var foreign = await _http.GetAsync($"/api/v1/jobs/{firstJob}/events?api_key={second.Secret}", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        // A key that merely looks like a database key, and a changed character of a real one, are refused.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync("lwk_" + new string('A', 43), HttpMethod.Get, "/api/v1/jobs", ct));
        var altered = first.Secret[..^1] + (first.Secret[^1] == 'A' ? 'B' : 'A');
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(altered, HttpMethod.Get, "/api/v1/jobs", ct));
    }

    [Fact]
    public async Task AKeyBoundToAUserIsThatUserWhateverTheRequestSays()
    {
        var ct = TestContext.Current.CancellationToken;
        var backend = await CreateKeyAsync(new JsonObject { ["name"] = "shop-backend", ["tenant_id"] = "shop" }, ct);
        var kiosk = await CreateKeyAsync(new JsonObject { ["name"] = "kiosk-7", ["tenant_id"] = "shop", ["user_id"] = "alice" }, ct);
        Assert.Equal("alice", (string?)kiosk.Key["user_id"]);

        var bobsJob = await SubmitAsync(backend.Secret, "bob", ct);
        var alicesJob = await SubmitAsync(backend.Secret, "alice", ct);

        foreach (var path in new[] { $"/api/v1/jobs/{bobsJob}", $"/api/v1/jobs/{bobsJob}?user_id=bob", $"/api/v1/status/{bobsJob}?user_id=bob" })
        {
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(kiosk.Secret, HttpMethod.Get, path, ct, userHeader: "bob"));
        }

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(kiosk.Secret, HttpMethod.Post, $"/api/v1/jobs/{bobsJob}/retry?user_id=bob", ct));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(kiosk.Secret, HttpMethod.Delete, $"/api/v1/workflow/{bobsJob}?user_id=bob", ct, userHeader: "bob"));
        Assert.DoesNotContain(bobsJob, await ListAsync(kiosk.Secret, "&user_id=bob", ct));
        Assert.Equal([alicesJob], await ListAsync(kiosk.Secret, "", ct));

        // Submitting as someone else still stores the bound user.
        var submitted = await SubmitAsync(kiosk.Secret, "mallory", ct);
        using var status = await SendAsync(backend.Secret, HttpMethod.Get, $"/api/v1/jobs/{submitted}", null, ct);
        Assert.Equal("alice", (string?)(await status.Content.ReadFromJsonAsync<JsonObject>(ct))!["user_id"]);
    }

    [Fact]
    public async Task RotationKeepsBothKeysValidForTheOverlapThenOnlyTheSuccessor()
    {
        var ct = TestContext.Current.CancellationToken;
        var old = await CreateKeyAsync(new JsonObject { ["name"] = "rotating-app" }, ct);
        var oldId = (string)old.Key["id"]!;
        var job = await SubmitAsync(old.Secret, null, ct);

        using var rotate = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{oldId}/rotate?overlap_seconds=3600", null, ct);
        Assert.Equal(HttpStatusCode.Created, rotate.StatusCode);
        var rotated = (await rotate.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        var successor = (string)rotated["api_key"]!;
        var successorKey = rotated["key"]!.AsObject();
        Assert.NotEqual(old.Secret, successor);
        Assert.Equal(("rotating-app", "rotating-app", "caller", "active"),
            ((string?)successorKey["tenant_id"], (string?)successorKey["name"], (string?)successorKey["role"], (string?)successorKey["state"]));
        var previous = rotated["previous"]!.AsObject();
        Assert.Equal("rotated", (string?)previous["state"]);
        Assert.Equal((string?)successorKey["id"], (string?)previous["rotated_to"]);
        var overlapEnd = (DateTimeOffset)previous["expires_at"]!;
        Assert.InRange(overlapEnd - _clock.GetUtcNow(), TimeSpan.FromMinutes(50), TimeSpan.FromMinutes(61));

        // Overlap: both work, on the same tenant.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(old.Secret, HttpMethod.Get, $"/api/v1/jobs/{job}", ct));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(successor, HttpMethod.Get, $"/api/v1/jobs/{job}", ct));

        // A rotated key is not rotated twice.
        Assert.Equal(HttpStatusCode.Conflict, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{oldId}/rotate", ct));

        // After the overlap the old key is refused and listed as expired; the successor goes on.
        _clock.Advance(overlapEnd - _clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(old.Secret, HttpMethod.Get, $"/api/v1/jobs/{job}", ct));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(successor, HttpMethod.Get, $"/api/v1/jobs/{job}", ct));
        var listed = await ListKeysAsync("rotating-app", ct);
        Assert.Equal("expired", (string?)listed.Single(k => (string?)k["id"] == oldId)["state"]);
        Assert.Equal(HttpStatusCode.Conflict, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{oldId}/rotate", ct));

        // overlap_seconds=0 ends the old key at once.
        using var immediate = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post,
            $"/api/v1/admin/keys/{successorKey["id"]}/rotate?overlap_seconds=0", null, ct);
        Assert.Equal(HttpStatusCode.Created, immediate.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(successor, HttpMethod.Get, "/api/v1/jobs", ct));
    }

    [Fact]
    public async Task RevocationIsImmediateHereAndWithinTheCacheTtlOnAnotherInstance()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = await CreateKeyAsync(new JsonObject { ["name"] = "revoked-app" }, ct);
        var otherClock = new ShiftedClock();
        var (otherFactory, otherApi) = StartApi(otherClock, new CapturingLoggerProvider());
        await using var _ = otherFactory;
        await using var __ = otherApi;
        using var other = otherApi.CreateClient();

        // Both instances have looked the key up (and cached it).
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(other, key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));

        using var revoke = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{key.Key["id"]}/revoke", null, ct);
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        var revoked = (await revoke.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        Assert.Equal("revoked", (string?)revoked["state"]);
        Assert.NotNull((string?)revoked["revoked_at"]);

        // The revoking instance refuses it at once; another refuses it once its cached lookup is older than the TTL.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));
        otherClock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(other, key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));

        // Revoking again changes nothing; a revoked key cannot be rotated back to life.
        using var again = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{key.Key["id"]}/revoke", null, ct);
        Assert.Equal((string?)revoked["revoked_at"], (string?)(await again.Content.ReadFromJsonAsync<JsonObject>(ct))!["revoked_at"]);
        Assert.Equal(HttpStatusCode.Conflict, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{key.Key["id"]}/rotate", ct));
    }

    [Fact]
    public async Task SecretsAppearOnlyInTheCreateAndRotateAnswers()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = await CreateKeyAsync(new JsonObject { ["name"] = "secretive-app", ["user_id"] = "u1" }, ct);
        var id = (string)key.Key["id"]!;
        var job = await SubmitAsync(key.Secret, null, ct);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(key.Secret, HttpMethod.Get, "/api/v1/jobs?user_id=u1", ct));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(key.Secret, HttpMethod.Delete, $"/api/v1/workflow/{job}", ct));
        using (var events = await _http.GetAsync($"/api/v1/jobs/{job}/events?api_key={key.Secret}", ct))
        {
            Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(key.Secret + "x", HttpMethod.Get, "/api/v1/jobs", ct));
        using var rotate = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{id}/rotate", null, ct);
        var successor = (string)(await rotate.Content.ReadFromJsonAsync<JsonObject>(ct))!["api_key"]!;
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(successor, HttpMethod.Get, "/api/v1/jobs", ct));

        var secrets = new[] { key.Secret, successor };
        var answers = new List<string>();
        foreach (var path in new[] { "/api/v1/admin/keys", "/api/v1/admin/keys?tenant_id=secretive-app", $"/api/v1/admin/keys/{id}" })
        {
            using var response = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Get, path, null, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answers.Add(await response.Content.ReadAsStringAsync(ct));
        }

        using (var revoke = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{id}/revoke", null, ct))
        {
            answers.Add(await revoke.Content.ReadAsStringAsync(ct));
        }

        Assert.Contains(answers, a => a.Contains((string)key.Key["prefix"]!, StringComparison.Ordinal));
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(answers, a => a.Contains(secret, StringComparison.Ordinal));
            Assert.DoesNotContain(_logs.Lines, l => l.Message.Contains(secret, StringComparison.Ordinal));
            // Only the digest is stored: no column of any key row holds the secret.
            await using var command = DataSource.CreateCommand("SELECT k::text FROM llm_api_keys k");
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                Assert.DoesNotContain(secret, reader.GetString(0), StringComparison.Ordinal);
            }
        }

        Assert.NotEmpty(_logs.Lines);
    }

    [Fact]
    public async Task OnlyAdminKeysManageKeys()
    {
        var ct = TestContext.Current.CancellationToken;
        var caller = await CreateKeyAsync(new JsonObject { ["name"] = "plain-app" }, ct);
        var admin = await CreateKeyAsync(new JsonObject { ["name"] = "ops", ["role"] = "admin" }, ct);
        var id = (string)caller.Key["id"]!;
        var routes = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Post, "/api/v1/admin/keys", """{"name": "sneaky"}"""),
            (HttpMethod.Get, "/api/v1/admin/keys", null),
            (HttpMethod.Get, $"/api/v1/admin/keys/{id}", null),
            (HttpMethod.Post, $"/api/v1/admin/keys/{id}/rotate", null),
            (HttpMethod.Post, $"/api/v1/admin/keys/{id}/revoke", null),
        };
        foreach (var key in new[] { TestEnvironment.CallerKey, caller.Secret })
        {
            foreach (var (method, path, body) in routes)
            {
                using var response = await SendAsync(key, method, path, body, ct);
                Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode}");
            }
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(caller.Secret, HttpMethod.Get, "/api/v1/jobs", ct));
        Assert.DoesNotContain(await ListKeysAsync(null, ct), k => (string?)k["name"] == "sneaky");

        // A database admin key is an admin: it manages keys and sees every tenant.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(admin.Secret, HttpMethod.Get, "/api/v1/admin/keys", ct));
        var job = await SubmitAsync(caller.Secret, null, ct);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(admin.Secret, HttpMethod.Get, $"/api/v1/jobs/{job}", ct));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(admin.Secret, HttpMethod.Post, $"/api/v1/admin/keys/{id}/revoke", ct));
    }

    [Theory]
    [InlineData("""{}""", "name")]
    [InlineData("""{"name": ""}""", "name")]
    [InlineData("""{"name": "has space"}""", "name")]
    [InlineData("""{"name": "-leading-dash"}""", "name")]
    [InlineData("""{"name": "ok", "tenant_id": "a/b"}""", "tenant_id")]
    [InlineData("""{"name": "ok", "role": "root"}""", "role")]
    [InlineData("""{"name": "ok", "role": "admin", "user_id": "alice"}""", "user_id")]
    [InlineData("""{"name": "ok", "user_id": "   "}""", "user_id")]
    [InlineData("""{"name": "ok", "expires_at": "2001-01-01T00:00:00Z"}""", "expires_at")]
    [InlineData("""{"name": "ok", "expires_at": "9999-01-01T00:00:00Z"}""", "expires_at")]
    public async Task BadKeyRequestsAre400NamingTheField(string body, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, "/api/v1/admin/keys", body, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.True(JsonNode.Parse(text)!["errors"]?.AsObject().ContainsKey(field) == true, $"expected errors.{field}: {text}");
    }

    [Fact]
    public async Task BadOverlapsAre400AndUnknownKeys404()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = await CreateKeyAsync(new JsonObject { ["name"] = "overlap-app" }, ct);
        foreach (var overlap in new[] { "-1", "604801", "2147483648", "abc" })
        {
            using var response = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{key.Key["id"]}/rotate?overlap_seconds={overlap}", null, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"overlap_seconds={overlap}: {(int)response.StatusCode} {text}");
            Assert.Contains("overlap_seconds", text, StringComparison.Ordinal);
        }

        var unknown = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Get, $"/api/v1/admin/keys/{unknown}", ct));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{unknown}/rotate", ct));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, $"/api/v1/admin/keys/{unknown}/revoke", ct));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(TestEnvironment.AdminKey, HttpMethod.Post, "/api/v1/admin/keys/not-a-guid/revoke", ct));
    }

    [Fact]
    public async Task LastUseIsWrittenInBatchesNotPerRequest()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = await CreateKeyAsync(new JsonObject { ["name"] = "busy-app" }, ct);
        var id = Guid.Parse((string)key.Key["id"]!);

        // An instance that writes last use only every hour (and at shutdown): many requests, no write.
        var (slowFactory, slowApi) = StartApi(new ShiftedClock(), new CapturingLoggerProvider(),
            new Dictionary<string, string?> { ["Auth:KeyUsageFlushInterval"] = "01:00:00" });
        using (var slow = slowApi.CreateClient())
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.Equal(HttpStatusCode.OK, await StatusAsync(slow, key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));
            }

            Assert.Null(await LastUsedAsync(id, ct));
        }

        var beforeShutdown = DateTimeOffset.UtcNow;
        await slowApi.DisposeAsync();
        await slowFactory.DisposeAsync();
        var written = await LastUsedAsync(id, ct);
        Assert.NotNull(written);
        Assert.True(written <= beforeShutdown, $"last_used_at {written:O} is the last request's time, before shutdown at {beforeShutdown:O}");

        // This class's instance writes every 200 ms: the list shows the use soon after, without a restart.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(key.Secret, HttpMethod.Get, "/api/v1/jobs", ct));
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (await LastUsedAsync(id, ct) == written)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "last_used_at was not written within 30 s");
            await Task.Delay(50, ct);
        }

        var listed = (await ListKeysAsync("busy-app", ct)).Single();
        Assert.NotNull((string?)listed["last_used_at"]);
    }

    private NpgsqlDataSource DataSource => _api.Services.GetRequiredService<NpgsqlDataSource>();

    private (ApiFactory Factory, WebApplicationFactory<LlmWorkflow.Api.ApiAssembly> Api) StartApi(
        TimeProvider clock, ILoggerProvider logs, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Auth:KeyUsageFlushInterval"] = "00:00:00.200",
            // Everything a key could leak into, logged.
            ["Logging:LogLevel:Default"] = "Debug",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug",
        };
        foreach (var (name, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        var factory = new ApiFactory(_environment.Settings(settings));
        var api = factory.WithWebHostBuilder(b => b
            .ConfigureLogging(l => l.AddProvider(logs))
            .ConfigureTestServices(s => s.AddSingleton(clock)));
        return (factory, api);
    }

    private async Task<(string Secret, JsonObject Key)> CreateKeyAsync(JsonObject request, CancellationToken ct)
    {
        using var response = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Post, "/api/v1/admin/keys", request.ToJsonString(), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create key: {(int)response.StatusCode} {text}");
        var answer = JsonNode.Parse(text)!.AsObject();
        Assert.Equal($"/api/v1/admin/keys/{answer["key"]!["id"]}", response.Headers.Location?.OriginalString);
        return ((string)answer["api_key"]!, answer["key"]!.AsObject());
    }

    private async Task<List<JsonObject>> ListKeysAsync(string? tenant, CancellationToken ct)
    {
        using var response = await SendAsync(TestEnvironment.AdminKey, HttpMethod.Get, "/api/v1/admin/keys" + (tenant is null ? "" : "?tenant_id=" + tenant), null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["keys"]!.AsArray().Select(k => k!.AsObject()).ToList();
    }

    private async Task<DateTimeOffset?> LastUsedAsync(Guid id, CancellationToken ct)
    {
        await using var command = DataSource.CreateCommand("SELECT last_used_at FROM llm_api_keys WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return await command.ExecuteScalarAsync(ct) is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
    }

    private async Task<string> SubmitAsync(string key, string? userId, CancellationToken ct)
    {
        var body = new JsonObject { ["workflow_name"] = "hello_transform", ["input_data"] = new JsonObject { ["name"] = "keys" } };
        if (userId is not null)
        {
            body["user_id"] = userId;
        }

        using var response = await SendAsync(key, HttpMethod.Post, "/api/v1/workflow", body.ToJsonString(), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"submit: {(int)response.StatusCode} {text}");
        return (string)JsonNode.Parse(text)!["job_id"]!;
    }

    private async Task<List<string>> ListAsync(string key, string query, CancellationToken ct)
    {
        using var response = await SendAsync(key, HttpMethod.Get, "/api/v1/jobs?limit=200" + query, null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["jobs"]!.AsArray().Select(j => (string)j!["job_id"]!).ToList();
    }

    private Task<HttpStatusCode> StatusAsync(string key, HttpMethod method, string path, CancellationToken ct, string? userHeader = null) =>
        StatusAsync(_http, key, method, path, ct, userHeader);

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string key, HttpMethod method, string path, CancellationToken ct, string? userHeader = null)
    {
        using var response = await SendAsync(http, key, method, path, null, ct, userHeader);
        return response.StatusCode;
    }

    private Task<HttpResponseMessage> SendAsync(string key, HttpMethod method, string path, string? body, CancellationToken ct) =>
        SendAsync(_http, key, method, path, body, ct);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string key, HttpMethod method, string path, string? body, CancellationToken ct, string? userHeader = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-API-Key", key);
        if (userHeader is not null)
        {
            request.Headers.Add("X-User-Id", userHeader);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request, ct);
    }
}
