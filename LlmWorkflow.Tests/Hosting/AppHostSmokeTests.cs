using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.AppHost.Resources;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// The real launcher as a developer runs it: Postgres, Redis, the API and two workers as processes. A job submitted
/// over HTTP completes; after a worker is killed with SIGKILL the AppHost reports it and jobs still complete.
/// </summary>
public sealed partial class AppHostSmokeTests
{
    [Fact]
    public async Task LaunchesEverythingRunsAJobAndSurvivesAKilledWorker()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Directory.CreateTempSubdirectory("llmwf-apphost-").FullName;
        var port = PortAllocator.GetFreePort();
        var appHostDll = Path.Combine(AppContext.BaseDirectory, "LlmWorkflow.AppHost.dll");
        // `env --default-signal=INT` (which execs, keeping the pid): a test run launched from a background job inherits
        // SIGINT ignored, and an ignored signal stays ignored in children, so Ctrl+C below would never reach the AppHost.
        await using var appHost = CapturedProcess.Start(new ProcessStartInfo("env", ["--default-signal=INT", "dotnet", appHostDll, "--api-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", data, "--workers", "2"])
        {
            WorkingDirectory = RepositoryPaths.Root,
            Environment = { ["LLM_MICROSERVICE_API_KEY"] = "smoke-key", ["ADMIN_API_KEY"] = "smoke-admin" },
        });
        try
        {
            // The AppHost builds Api and Worker first (incremental: a no-op after the solution build, but slow on a busy machine).
            await appHost.WaitForLineAsync(l => l.Contains("press Ctrl+C to stop", StringComparison.Ordinal), TimeSpan.FromSeconds(300), "The AppHost did not report its resources");
            var table = appHost.Output;
            foreach (var name in new[] { "postgres", "redis", "api", "worker-1", "worker-2" })
            {
                Assert.Matches(new Regex($"^{name}\\s+Running", RegexOptions.Multiline), table);
            }

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            client.DefaultRequestHeaders.Add("X-API-Key", "smoke-key");
            Assert.Equal("completed", await RunJobAsync(client, "first", ct));

            var workerPid = int.Parse(WorkerPid().Match(table).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Process.GetProcessById(workerPid).Kill();
            await appHost.WaitForLineAsync(l => l.Contains("worker-1 exited unexpectedly", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "The AppHost did not report the killed worker");

            for (var i = 0; i < 3; i++)
            {
                Assert.Equal("completed", await RunJobAsync(client, $"after-kill-{i}", ct));
            }
        }
        finally
        {
            // Ctrl+C equivalent: the AppHost stops its children and servers and exits cleanly.
            using (var kill = Process.Start("kill", ["-INT", appHost.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(CancellationToken.None);
            }

            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await appHost.Process.WaitForExitAsync(stopped.Token);
            }
            finally
            {
                // A stop that failed must not leave the AppHost, its projects and servers running for the rest of the suite.
                await appHost.KillAsync();
            }

            Directory.Delete(data, recursive: true);
        }

        Assert.Equal(0, appHost.Process.ExitCode);
    }

    private static async Task<string?> RunJobAsync(HttpClient client, string name, CancellationToken ct)
    {
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name } }, ct);
        response.EnsureSuccessStatusCode();
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        var status = await JobPolling.WaitForTerminalAsync(client, (string)accepted!["status_url"]!, TimeSpan.FromSeconds(60), ct);
        Assert.Equal($"Hello, {name}!", (string?)status["result"]?["output"]?["greeting"]);
        return (string?)status["status"];
    }

    [GeneratedRegex(@"^worker-1\s+Running\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex WorkerPid();
}
