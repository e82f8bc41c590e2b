using System.Text.Json.Nodes;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// <c>llmwf keys create|list|rotate|revoke</c> against the real API (in-process, its handler injected into the CLI)
/// on a real database: the secret is printed once and works, lists never show it, rotation and revocation take
/// effect, and the commands need an admin key.
/// </summary>
[SystemTest]
public sealed class KeysCommandTests(TestServers servers) : IAsyncLifetime
{
    private const string Url = "http://localhost";
    private ApiFactory _api = null!;

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(KeysCommandTests));
        _api = new ApiFactory(environment.Settings());
    }

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task CreateListRotateAndRevokeAKey()
    {
        var created = await Admin("keys", "create", "--name", "cli-app", "--tenant", "cli-tenant", "--user-id", "ada");
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        Assert.Contains("Its secret is shown this once", created.Out);
        var secret = created.Out.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("lwk_", StringComparison.Ordinal));
        Assert.Contains("tenant cli-tenant, name cli-app, role caller, bound to user ada", created.Out);

        // The secret works as a caller key, as its tenant and user.
        var submitted = await As(secret, "submit", "hello_transform", "-i", """{"name": "Ada"}""", "--json");
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        var jobs = await As(secret, "jobs", "--json");
        Assert.Contains(jobs.Json["jobs"]!.AsArray(), j => (string?)j!["job_id"] == (string?)submitted.Json["job_id"] && (string?)j["user_id"] == "ada");

        // Lists show the prefix, never the secret.
        var table = await Admin("keys", "list", "--tenant", "cli-tenant");
        var listed = await Admin("keys", "list", "--json");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains(secret[..12] + "…", table.Out);
        Assert.DoesNotContain(secret, table.Out + listed.Out);
        var key = listed.Json["keys"]!.AsArray().Single(k => (string?)k!["name"] == "cli-app")!.AsObject();
        var keyId = (string)key["id"]!;
        Assert.Equal("active", (string?)key["state"]);

        // Rotation prints the successor's secret; both work during the overlap.
        var rotated = await Admin("keys", "rotate", keyId, "--overlap", "2h", "--json");
        Assert.True(rotated.ExitCode == ExitCodes.Success, rotated.ToString());
        var successor = (string)rotated.Json["api_key"]!;
        Assert.Equal("rotated", (string?)rotated.Json["previous"]!["state"]);
        Assert.InRange((DateTimeOffset)rotated.Json["previous"]!["expires_at"]! - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(110), TimeSpan.FromMinutes(121));
        Assert.Equal(ExitCodes.Success, (await As(secret, "jobs")).ExitCode);
        Assert.Equal(ExitCodes.Success, (await As(successor, "jobs")).ExitCode);

        // Revocation: the old key stops at once.
        var revoked = await Admin("keys", "revoke", keyId);
        Assert.True(revoked.ExitCode == ExitCodes.Success, revoked.ToString());
        Assert.Contains($"key {keyId} ({secret[..12]}…, tenant cli-tenant): revoked at", revoked.Out);
        var refused = await As(secret, "jobs");
        Assert.Equal(ExitCodes.Failure, refused.ExitCode);
        Assert.Contains("HTTP 401", refused.Error);
        Assert.Equal(ExitCodes.Success, (await As(successor, "jobs")).ExitCode);
    }

    [Fact]
    public async Task KeyCommandsNeedAnAdminKey()
    {
        var result = await As(TestEnvironment.CallerKey, "keys", "list");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("HTTP 403", result.Error);
        Assert.Contains("This route needs an admin API key.", result.Error);
    }

    [Fact]
    public async Task TheAdminKeyComesFromLlmwfAdminKeyBeforeLlmwfApiKey()
    {
        var environment = new Dictionary<string, string?>
        {
            ["LLMWF_ADMIN_KEY"] = TestEnvironment.AdminKey,
            ["LLMWF_API_KEY"] = TestEnvironment.CallerKey,
        };
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new CliConsole
        {
            Out = output, Error = error, WorkingDirectory = CliHarness.RepositoryRoot, HttpHandler = _api.Server.CreateHandler(),
            Environment = name => environment.GetValueOrDefault(name),
        };

        var exitCode = await CliApp.RunAsync(["keys", "list", "--url", Url, "--json"], console, TestContext.Current.CancellationToken);

        Assert.True(exitCode == ExitCodes.Success, error.ToString());
        Assert.NotNull(JsonNode.Parse(output.ToString())!["keys"]);
    }

    [Fact]
    public async Task ServiceRefusalsAndBadArgumentsSayWhatIsWrong()
    {
        var badRole = await Admin("keys", "create", "--name", "x", "--role", "root");
        var badName = await Admin("keys", "create", "--name", "has space");
        var badOverlap = await Admin("keys", "rotate", Guid.NewGuid().ToString(), "--overlap", "soon");
        var tooLong = await Admin("keys", "rotate", Guid.NewGuid().ToString(), "--overlap", "8d");
        var unknown = await Admin("keys", "revoke", Guid.NewGuid().ToString());
        var notAnId = await Admin("keys", "revoke", "abc");

        Assert.Equal(ExitCodes.UsageError, badRole.ExitCode);
        Assert.Equal(ExitCodes.Failure, badName.ExitCode);
        Assert.Contains("name must be 1-100 characters", badName.Error);
        Assert.Equal(ExitCodes.UsageError, badOverlap.ExitCode);
        Assert.Contains("--overlap soon", badOverlap.Error);
        Assert.Equal(ExitCodes.Failure, tooLong.ExitCode);
        Assert.Contains("overlap_seconds must be between 0 and 604800", tooLong.Error);
        Assert.Equal(ExitCodes.Failure, unknown.ExitCode);
        Assert.Contains("HTTP 404", unknown.Error);
        Assert.Equal(ExitCodes.UsageError, notAnId.ExitCode);
        Assert.Contains("\"abc\" is not a key id", notAnId.Error);
    }

    private Task<CliResult> Admin(params string[] args) => As(TestEnvironment.AdminKey, args);

    private Task<CliResult> As(string key, params string[] args) =>
        CliHarness.RunAsync(CliHarness.RepositoryRoot, _api.Server.CreateHandler(), [.. args, "--url", Url, "--api-key", key]);
}
