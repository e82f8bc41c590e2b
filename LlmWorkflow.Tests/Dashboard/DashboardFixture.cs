using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.Playwright;
using Npgsql;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// One isolated environment for the browser tests: its own database and Redis prefix, the real API on a real port,
/// a real in-process Worker (mock LLM calls slowed down so progress is visible), and one headless Chromium.
/// </summary>
public sealed class DashboardFixture(TestServers servers) : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Per mock LLM call; the pipeline makes four, so a run takes about ten seconds.</summary>
    public const int MockLatencyMs = 2500;

    private static readonly string[] ChromiumArgs =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    private WorkerHost _worker = null!;
    private IPlaywright _playwright = null!;

    public RealApiHost Api { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public string PostgresConnectionString { get; private set; } = null!;

    /// <summary>Where every screenshot is written (the test output folder).</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async ValueTask InitializeAsync()
    {
        var environment = await TestEnvironment.CreateAsync(servers, "dashboard");
        PostgresConnectionString = environment.PostgresConnectionString;
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Dashboard", "workflows"),
            ["Llm:Mock:LatencyMs"] = MockLatencyMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // The mock is free; give it prices so the costs view has dollars to add up.
            ["Pricing:Models:mock/lorem:InputPerMillion"] = "3",
            ["Pricing:Models:mock/lorem:OutputPerMillion"] = "15",
            ["Pricing:Models:mock/lorem-40:InputPerMillion"] = "3",
            ["Pricing:Models:mock/lorem-40:OutputPerMillion"] = "15",
            ["Pricing:Models:mock/echo:InputPerMillion"] = "0.5",
            ["Pricing:Models:mock/echo:OutputPerMillion"] = "1.5",
            ["Worker:Id"] = "dashboard-worker",
            ["Worker:MaxConcurrentJobs"] = "8",
        });
        Api = RealApiHost.Start(settings);
        Admin = Api.CreateClient();
        _worker = await WorkerHost.StartAsync(settings);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>Submits a workflow as the admin and returns the job id.</summary>
    public async Task<string> SubmitAsync(string workflow, object input, string username = "ada", string action = "browser test", CancellationToken cancellationToken = default)
    {
        var response = await Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = workflow, input_data = input, username, user_id = username, action }, cancellationToken);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        return (string)body!["job_id"]!;
    }

    public Task<JsonObject> WaitForTerminalAsync(string jobId, CancellationToken cancellationToken) =>
        JobPolling.WaitForTerminalAsync(Admin, $"api/v1/status/{jobId}", TimeSpan.FromSeconds(90), cancellationToken);

    /// <summary>Moves jobs' creation time back, so the period filters (Today, 7 Days, 30 Days) have something to tell apart.</summary>
    public async Task BackdateAsync(IEnumerable<string> jobIds, TimeSpan age)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE llm_workflow_jobs SET created_at = now() - @age WHERE id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("age", age);
        command.Parameters.AddWithValue("ids", jobIds.Select(Guid.Parse).ToArray());
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        Admin?.Dispose();
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
    }
}
