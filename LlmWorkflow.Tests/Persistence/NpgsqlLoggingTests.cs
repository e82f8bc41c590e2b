using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The hosts' data source logs through the host's logger factory, so Npgsql's own warnings (a broken connection, a
/// failed prepare) reach the service's logs and its OpenTelemetry export; the shipped settings keep it at Warning.
/// </summary>
[IntegrationTest]
public sealed class NpgsqlLoggingTests(TestServers servers)
{
    [Fact]
    public async Task NpgsqlLogsThroughTheHostsLoggerAtTheConfiguredLevel()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(NpgsqlLoggingTests));
        var logs = new CapturingLoggerProvider();
        await using (await WorkerHost.StartAsync(environment.Settings(new Dictionary<string, string?> { ["Logging:LogLevel:Npgsql"] = "Debug" }), ct, logs))
        {
            Assert.Contains(logs.Lines, line => line.Category == "Npgsql.Command" && line.Message.Contains("Command execution completed", StringComparison.Ordinal));
        }

        foreach (var service in new[] { "LlmWorkflow.Api", "LlmWorkflow.Worker" })
        {
            var shipped = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, service, "appsettings.json"), ct));
            Assert.Equal("Warning", (string?)shipped!["Logging"]!["LogLevel"]!["Npgsql"]);
        }
    }
}
