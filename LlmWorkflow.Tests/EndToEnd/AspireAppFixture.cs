using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using PortAllocator = LlmWorkflow.Tests.LocalServers.PortAllocator;

namespace LlmWorkflow.Tests.EndToEnd;

/// <summary>
/// The real AppHost (its Program.cs model) started once through Aspire.Hosting.Testing for the tests that share it:
/// postgres and redis from the local binaries (what this machine and CI can run), the api, two worker replicas and the
/// Aspire dashboard, which the testing builder turns off by default and this fixture turns back on, on free ports, so
/// traces go where they go in a developer's run. The workers' mock LLM answers slowly (a job with LLM steps runs long
/// enough to stop its worker mid-way) and drain for only a second when stopped.
/// </summary>
public sealed class AspireAppFixture : IAsyncLifetime
{
    /// <summary>The mock provider's latency per LLM call in the workers.</summary>
    public static readonly TimeSpan LlmLatency = TimeSpan.FromSeconds(3);

    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("llmwf-aspire-");

    public DistributedApplication App { get; private set; } = null!;

    /// <summary>An HTTP client for the api, with the caller key.</summary>
    public HttpClient Api { get; private set; } = null!;

    /// <summary>The Aspire dashboard's base address.</summary>
    public Uri DashboardUrl { get; private set; } = null!;

    /// <summary>The key of the dashboard's telemetry API (header <c>x-api-key</c>).</summary>
    public string DashboardApiKey { get; } = Guid.NewGuid().ToString("N");

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var apiPort = PortAllocator.GetFreePort();
        DashboardUrl = new Uri($"http://localhost:{Port()}");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.LlmWorkflow_AppHost>(
            [
                "--workers", "2", "--api-port", apiPort.ToString(CultureInfo.InvariantCulture), "--data", _data.FullName,
                "--AppHost:Infrastructure=local",
                // The testing builder gives the dashboard random ports unless told not to; these free ones are known.
                "--DcpPublisher:RandomizePorts=false",
                $"--ASPNETCORE_URLS={DashboardUrl.ToString().TrimEnd('/')}",
                $"--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:{Port()}",
                $"--ASPIRE_DASHBOARD_MCP_ENDPOINT_URL=http://localhost:{Port()}",
                $"--ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://localhost:{Port()}",
                $"--AppHost:DashboardApiKey={DashboardApiKey}",
            ],
            (options, _) => options.DisableDashboard = false,
            ct);
        var worker = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "worker");
        worker.Annotations.Add(new EnvironmentCallbackAnnotation(environment =>
        {
            environment["Llm__Mock__LatencyMs"] = ((int)LlmLatency.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            environment["Worker__DrainTimeout"] = "00:00:01";
        }));

        App = await builder.BuildAsync(ct);
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(ct);
        startup.CancelAfter(TimeSpan.FromMinutes(4));
        await App.StartAsync(startup.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("api", startup.Token);
        if (!builder.Resources.Any(resource => resource.Name == "aspire-dashboard"))
        {
            throw new InvalidOperationException("The testing builder started the AppHost without its dashboard.");
        }

        await App.ResourceNotifications.WaitForResourceHealthyAsync("aspire-dashboard", startup.Token);
        Api = new HttpClient { BaseAddress = new Uri($"http://localhost:{apiPort}") };
        Api.DefaultRequestHeaders.Add("X-API-Key", "dev-api-key");
    }

    public async ValueTask DisposeAsync()
    {
        Api?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        _data.Delete(recursive: true);
    }

    private static string Port() => PortAllocator.GetFreePort().ToString(CultureInfo.InvariantCulture);
}
