using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Npgsql;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// One isolated environment for the browser tests: its own database and Redis prefix, the real API on a real port,
/// a real in-process Worker, a slow local HTTP endpoint the test workflows call (so progress is visible), and one
/// headless Chromium.
/// </summary>
public sealed class DashboardFixture(TestServers servers) : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    private WorkerHost _worker = null!;
    private WebApplication _slowServer = null!;
    private IPlaywright _playwright = null!;
    private string _workflowsRoot = null!;

    /// <summary>The Aspire dashboard the API is told about (AspireDashboard:Url); nothing listens there.</summary>
    public const string AspireDashboardUrl = "http://127.0.0.1:18888";

    public RealApiHost Api { get; private set; } = null!;

    /// <summary>The LLM provider <c>fakeai</c> (workflow dashboard_provider): an in-process fake a test can take down (OutageStatus).</summary>
    public LlmWorkflow.Tests.Fakes.FakeOpenAiServer FakeProvider { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public string PostgresConnectionString { get; private set; } = null!;

    /// <summary>The slow endpoint: answers <c>GET ?ms=N&amp;step=id</c> after N milliseconds.</summary>
    public string SlowUrl { get; private set; } = null!;

    /// <summary>Receivers (by name) that currently answer 204; every other receiver answers 503.</summary>
    public ConcurrentDictionary<string, bool> AcceptingReceivers { get; } = new();

    /// <summary>Event ids delivered (answered 204), by receiver name.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<string>> DeliveredWebhooks { get; } = new();

    /// <summary>A webhook URL on the local receiver; it refuses until <see cref="AcceptingReceivers"/> holds its name.</summary>
    public string WebhookUrl(string receiver) => SlowUrl.Replace("/slow", "/hook/" + receiver, StringComparison.Ordinal);

    /// <summary>Where every screenshot is written (the test output folder).</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>
    /// Whether a view's screenshot is taken: every one with <c>SCREENSHOTS=1</c> (to look at the layouts), the docs'
    /// ones with <c>UPDATE_SCREENSHOTS=1</c> (copied into docs/screenshots), none otherwise. A screenshot asserts
    /// nothing, and encoding 96 full-page PNGs took the every-view test 84 s against 76 s without.
    /// </summary>
    public static bool TakesScreenshot(bool forDocs) =>
        Environment.GetEnvironmentVariable("SCREENSHOTS") == "1" || (forDocs && UpdatesDocsScreenshots);

    /// <summary>Whether the docs' screenshots are refreshed into docs/screenshots (<c>UPDATE_SCREENSHOTS=1</c>).</summary>
    public static bool UpdatesDocsScreenshots => Environment.GetEnvironmentVariable("UPDATE_SCREENSHOTS") == "1";

    public async ValueTask InitializeAsync()
    {
        SlowUrl = await StartSlowServerAsync();
        FakeProvider = await LlmWorkflow.Tests.Fakes.FakeOpenAiServer.StartAsync();
        var environment = await TestEnvironment.CreateAsync(servers, "dashboard");
        _workflowsRoot = CreateWorkflowsRoot();
        PostgresConnectionString = environment.PostgresConnectionString;
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = _workflowsRoot,
            ["AspireDashboard:Url"] = AspireDashboardUrl,
            ["External:Http:AllowedHosts:0"] = "127.0.0.1",
            ["External:Http:AllowPrivateNetworks"] = "true",
            // The pipeline's streamed mock LLM step: its text arrives in chunks over about two seconds.
            ["Llm:Mock:LatencyMs"] = "2000",
            ["Worker:Id"] = "dashboard-worker",
            // The fake provider of dashboard_provider; one try per call, and a breaker that opens after two failures,
            // so an outage shows in the Providers view within a few jobs (and closes again soon after it ends).
            ["Llm:Providers:fakeai:BaseUrl"] = FakeProvider.ApiUrl.ToString(),
            ["Llm:Providers:fakeai:ApiKey"] = "sk-fake",
            ["Llm:Retry:MaxAttempts"] = "1",
            ["Llm:CircuitBreaker:MinimumThroughput"] = "2",
            ["Llm:CircuitBreaker:FailureRatio"] = "0.5",
            ["Llm:CircuitBreaker:BreakDuration"] = "00:00:03",
            // The outage test retries failed jobs by filter: the outage breaker, which would park them instead, stays closed.
            ["Llm:Outage:ConsecutiveFailures"] = "1000",
            ["Worker:MaxConcurrentJobs"] = "8",
            // An LLM budget on the mock provider and a dollar budget of a tenant no test calls as, for the budgets panel.
            ["Llm:Limits:mock:RequestsPerMinute"] = "1000",
            // An API key's budget, on a provider entry no test calls, for the panel's key scope row.
            ["Llm:Providers:keyshown:BaseUrl"] = FakeProvider.ApiUrl.ToString(),
            ["Llm:Providers:keyshown:ApiKey"] = "sk-key-shown",
            ["Llm:Providers:keyshown:KeyLimits:TokensPerMinute"] = "5000",
            ["Tenants:budget-shown:Budgets:DailyUsd"] = "25",
            // Webhooks to the local receiver below, retried once after 200 ms, so a refused delivery dead-letters quickly.
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.100",
            ["Webhooks:RetryDelays:0"] = "00:00:00.200",
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

    /// <summary>
    /// The test workflows plus the shipped trip_briefing and support_agent and the prompts they read, in a folder of their own (the API
    /// reads one workflows root).
    /// </summary>
    private static string CreateWorkflowsRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), $"llmwf-dashboard-workflows-{Guid.NewGuid():N}");
        var definitions = Directory.CreateDirectory(Path.Combine(root, "definitions")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Dashboard", "workflows", "definitions")))
        {
            File.Copy(file, Path.Combine(definitions, Path.GetFileName(file)));
        }

        foreach (var shipped in new[] { "trip_briefing.json", "support_agent.json" })
        {
            File.Copy(Path.Combine(RepositoryPaths.Root, "workflows", "definitions", shipped), Path.Combine(definitions, shipped));
        }

        var prompts = Path.Combine(RepositoryPaths.Root, "workflows", "prompts");
        foreach (var file in Directory.GetFiles(prompts, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(root, "prompts", Path.GetRelativePath(prompts, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return root;
    }

    private async Task<string> StartSlowServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        _slowServer = builder.Build();
        _slowServer.MapGet("/slow", async (int? ms, string? step, CancellationToken cancellationToken) =>
        {
            await Task.Delay(ms ?? 1000, cancellationToken);
            return Results.Json(new { step, waited_ms = ms ?? 1000, text = $"Result of {step}." });
        });
        _slowServer.MapPost("/hook/{receiver}", (string receiver, HttpRequest request) =>
        {
            if (!AcceptingReceivers.ContainsKey(receiver))
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            DeliveredWebhooks.GetOrAdd(receiver, _ => new()).Enqueue(request.Headers["webhook-id"].ToString());
            return Results.NoContent();
        });
        await _slowServer.StartAsync();
        return _slowServer.Urls.First().TrimEnd('/') + "/slow";
    }

    /// <summary>Usage rows as the LLM step records them (one per call), for the costs view.</summary>
    public async Task RecordUsageAsync(string jobId, string model, int inputTokens, int outputTokens, decimal costUsd)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "INSERT INTO llm_provider_usage (job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms) " +
            "VALUES (@job, @provider, @model, @input, @output, @input + @output, @cost, 120)", connection);
        command.Parameters.AddWithValue("job", Guid.Parse(jobId));
        command.Parameters.AddWithValue("provider", model.Split('/')[0]);
        command.Parameters.AddWithValue("model", model);
        command.Parameters.AddWithValue("input", inputTokens);
        command.Parameters.AddWithValue("output", outputTokens);
        command.Parameters.AddWithValue("cost", costUsd);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Submits a workflow as the admin and returns the job id.</summary>
    public async Task<string> SubmitAsync(
        string workflow, object input, string username = "ada", string action = "browser test", CancellationToken cancellationToken = default, string? userId = null)
    {
        var response = await Admin.PostAsJsonAsync("api/v1/workflow", new { workflow_name = workflow, input_data = input, username, user_id = userId ?? username, action }, cancellationToken);
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
        if (FakeProvider is not null)
        {
            await FakeProvider.DisposeAsync();
        }

        if (_slowServer is not null)
        {
            await _slowServer.DisposeAsync();
        }

        if (Api is not null)
        {
            await Api.DisposeAsync();
        }

        if (_workflowsRoot is not null && Directory.Exists(_workflowsRoot))
        {
            Directory.Delete(_workflowsRoot, recursive: true);
        }
    }

    /// <summary>
    /// A page in a fresh browser context on the API, at <paramref name="width"/> × <paramref name="height"/> px, whose
    /// console errors and uncaught page errors are collected into <paramref name="consoleErrors"/>.
    /// </summary>
    public async Task<IPage> NewPageAsync(ColorScheme scheme, int width, int height, List<IBrowserContext> contexts, List<string> consoleErrors)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Api.BaseAddress.ToString(),
            ColorScheme = scheme,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            DeviceScaleFactor = 1,
        });
        contexts.Add(context);
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (consoleErrors)
                {
                    consoleErrors.Add($"{message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (consoleErrors)
            {
                consoleErrors.Add("page error: " + error);
            }
        };
        return page;
    }
}
