using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Dashboard;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Contract;

/// <summary>
/// The service as the main application meets it: the real API on a real port and a real Worker, on one database and
/// Redis prefix, with the service-wide webhook secret and a default webhook URL pointing at the port the Node
/// scripts' receiver (the documents' webhook handler) listens on. Mock LLM calls take a second, so pollers and
/// event streams see jobs running.
/// </summary>
public sealed class ContractFixture(TestServers servers) : IAsyncLifetime
{
    public const string WebhookSecret = "contract-webhook-secret";
    public const string BrowserOrigin = "http://localhost:3000";

    private WorkerHost _worker = null!;

    public RealApiHost Api { get; private set; } = null!;

    /// <summary>The port reserved for the Node receiver that stands in for the main app's /api/webhooks/llm-callback.</summary>
    public int ReceiverPort { get; private set; }

    /// <summary>Where the worker writes document 004's CSV run logs (CSV_LOG_DIR), for the generator flow to read.</summary>
    public string CsvLogDirectory { get; } = Path.Combine(Path.GetTempPath(), "llmwf-contract-csv-" + Guid.NewGuid().ToString("N"));

    public async ValueTask InitializeAsync()
    {
        ReceiverPort = PortAllocator.GetFreePort();
        var environment = await TestEnvironment.CreateAsync(servers, "contract");
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Llm:Mock:LatencyMs"] = "1000",
            ["Llm:Mock:ServeAllModels"] = "true",
            ["Webhooks:Secret"] = WebhookSecret,
            ["Webhooks:DefaultUrl"] = $"http://127.0.0.1:{ReceiverPort}/api/webhooks/llm-callback",
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.100",
            ["Webhooks:RetryDelays:0"] = "00:00:00.500",
            ["Cors:AllowedOrigins"] = BrowserOrigin,
            ["Worker:Id"] = "contract-worker",
            ["Worker:MaxConcurrentJobs"] = "8",
            ["CSV_LOG_DIR"] = CsvLogDirectory,
        });
        Api = RealApiHost.Start(settings);
        _worker = await WorkerHost.StartAsync(settings);
    }

    public async ValueTask DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        if (Api is not null)
        {
            await Api.DisposeAsync();
        }

        // The service's CSV logs (CSV_LOG_DIR), once the API that writes them has stopped.
        if (Directory.Exists(CsvLogDirectory))
        {
            Directory.Delete(CsvLogDirectory, recursive: true);
        }
    }
}
