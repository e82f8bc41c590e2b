using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Generator;

/// <summary>
/// The API and a worker on their own database, every model answered by the mock, with CSV run logs in a temporary
/// folder (deleted with it): what the project generator's tests run against.
/// </summary>
internal sealed class GeneratorPipeline : IAsyncDisposable
{
    private GeneratorPipeline(ApiFactory api, WorkerHost worker, string csvDirectory)
    {
        Api = api;
        Worker = worker;
        CsvDirectory = csvDirectory;
        Client = api.CreateAuthenticatedClient();
    }

    public ApiFactory Api { get; }

    public WorkerHost Worker { get; }

    public HttpClient Client { get; }

    public string CsvDirectory { get; }

    public static async Task<GeneratorPipeline> StartAsync(TestServers servers, string name, IDictionary<string, string?> extra)
    {
        var csvDirectory = Path.Combine(Path.GetTempPath(), "llmwf-csv-" + Guid.NewGuid().ToString("N"));
        var settings = (await TestEnvironment.CreateAsync(servers, name)).Settings(new Dictionary<string, string?>(extra)
        {
            ["Llm:Mock:ServeAllModels"] = "true",
            ["CSV_LOG_DIR"] = csvDirectory,
        });
        var api = new ApiFactory(settings);
        return new GeneratorPipeline(api, await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken), csvDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        await Worker.DisposeAsync();
        Client.Dispose();
        await Api.DisposeAsync();
        if (Directory.Exists(CsvDirectory))
        {
            Directory.Delete(CsvDirectory, recursive: true);
        }
    }
}
