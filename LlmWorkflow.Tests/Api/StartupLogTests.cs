using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;

namespace LlmWorkflow.Tests.Api;

/// <summary>
/// The real API and Worker processes, with their shipped appsettings.json and real PostgreSQL and Redis: a healthy first
/// start (migrations, a first job with a signed webhook, which creates the Data Protection key) prints no warning, and
/// the documents' LOG_LEVEL changes the level the shipped file sets, and a broken workflow definition stops the start.
/// </summary>
[SystemTest]
public sealed class StartupLogTests(TestServers servers)
{
    /// <summary>The console formatter's prefixes of warning, error and critical lines.</summary>
    private static readonly string[] WarningPrefixes = ["warn:", "fail:", "crit:"];

    [Fact]
    public async Task AHealthyFirstStartOfApiAndWorkerPrintsNoWarning()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StartupLogTests), migrated: false);
        var settings = ShippedLogLevels(environment.Settings(new Dictionary<string, string?>
        {
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.100",
        }));
        await using var receiver = await WebhookReceiver.StartAsync("first-start-secret");
        await using var api = await ApiProcess.StartAsync(settings);
        await using var worker = await WorkerProcess.StartAsync(settings);

        using var client = api.CreateClient();
        using var submit = await client.PostAsJsonAsync("/api/v1/workflow", new
        {
            workflow_name = "hello_transform",
            input_data = new { name = "Ada" },
            webhook_url = receiver.HookUrl,
            webhook_secret = "first-start-secret",
        }, ct);
        Assert.Equal(HttpStatusCode.Accepted, submit.StatusCode);
        var jobId = (string)(await submit.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
        var delivered = Assert.Single(await receiver.WaitForRequestsAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Contains(jobId, delivered.Body, StringComparison.Ordinal);

        AssertNoWarning("API", api.Output);
        AssertNoWarning("Worker", worker.Output);
    }

    [Fact]
    public async Task TheDocumentsEnvironmentVariableIsTheHostingEnvironment()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StartupLogTests) + "Environment");
        // As document 001 deploys it: ENVIRONMENT=development and no ASPNETCORE_ENVIRONMENT.
        await using var api = await ApiProcess.StartAsync(environment.Settings(new Dictionary<string, string?>
        {
            ["ENVIRONMENT"] = "development",
            ["ASPNETCORE_ENVIRONMENT"] = null,
        }));
        // The host's own line (IHostEnvironment), which said "Production" when the name was changed after the builder.
        await api.WaitForOutputAsync("Hosting environment: Development", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("Hosting environment: Production", api.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogLevelFromTheEnvironmentOverridesTheShippedAppsettings()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StartupLogTests) + "Level");

        // The shipped file sets Default: Information, so debug lines appear only if LOG_LEVEL wins over it.
        await using (var debug = await ApiProcess.StartAsync(ShippedLogLevels(environment.Settings(new Dictionary<string, string?> { ["LOG_LEVEL"] = "debug" }))))
        {
            Assert.Contains("dbug: ", debug.Output, StringComparison.Ordinal);
        }

        // warning: the API's own information lines are gone; "Now listening on" stays only
        // because the test helper sets Microsoft.Hosting.Lifetime under its own name, which wins over LOG_LEVEL.
        await using var quiet = await ApiProcess.StartAsync(ShippedLogLevels(environment.Settings(new Dictionary<string, string?> { ["LOG_LEVEL"] = "warning" })));
        Assert.DoesNotContain("info: LlmWorkflow", quiet.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("dbug: ", quiet.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABrokenWorkflowDefinitionStopsTheApiAtStartWithItsProblem()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StartupLogTests) + "Broken");
        using var workflows = new LlmWorkflow.Tests.Hosting.TemporaryDirectory();
        CopyDirectory(RepositoryPaths.Workflows, workflows.Path);
        await File.WriteAllTextAsync(Path.Combine(workflows.Path, "definitions", "broken.json"), """
            {"name": "broken", "version": "1.0", "steps": [{"id": "only", "type": "no_such_step_type"}]}
            """, TestContext.Current.CancellationToken);

        // The catalog loads before the API listens, so the start fails instead of the first submission.
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ApiProcess.StartAsync(environment.Settings(new Dictionary<string, string?> { ["Workflows:Root"] = workflows.Path })));
        Assert.Contains("the process exited", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid workflow definitions", failure.Message, StringComparison.Ordinal);
        Assert.Contains("broken.json", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWebhookUrlWithoutASecretRefusesTheStartInOneLineNamingTheSetting()
    {
        var environment = await TestEnvironment.CreateAsync(servers, nameof(StartupLogTests) + "Refused");
        var settings = environment.Settings(new Dictionary<string, string?> { ["WEBHOOK_URL"] = "https://hooks.example.com/llm" });
        foreach (var secret in settings.Keys.Where(k => k.StartsWith("Webhooks:Secret", StringComparison.Ordinal) || k == "LLM_WEBHOOK_SECRET").ToList())
        {
            settings.Remove(secret);
        }

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiProcess.StartAsync(settings));

        Assert.Contains("the process exited with 1 first", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Start refused: Webhooks:DefaultUrl (WEBHOOK_URL) is set but no signing secret is", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", failure.Message, StringComparison.Ordinal);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(directory.Replace(from, to, StringComparison.Ordinal));
        }

        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
        }
    }

    /// <summary>The test settings without their log levels, so the shipped appsettings.json decides them.</summary>
    private static Dictionary<string, string?> ShippedLogLevels(Dictionary<string, string?> settings)
    {
        foreach (var key in settings.Keys.Where(k => k.StartsWith("Logging:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }

        return settings;
    }

    private static void AssertNoWarning(string process, string output)
    {
        var lines = output.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (!WarningPrefixes.Any(p => lines[i].TrimStart().StartsWith(p, StringComparison.Ordinal)))
            {
                continue;
            }

            // The simple console formatter writes the level and category on one line, the message on the next and
            // then the exception, if any.
            var entry = string.Join(" ", lines.Skip(i).Take(4).Select(l => l.Trim()));
            Assert.Fail($"The {process} printed a warning on a healthy start: {entry}\n--- full output ---\n{output}");
        }
    }
}
