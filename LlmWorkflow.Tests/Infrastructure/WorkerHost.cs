using LlmWorkflow.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>A real Worker host in-process (same composition as the Worker's Program) for end-to-end tests.</summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly IHost _host;

    private WorkerHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    public static async Task<WorkerHost> StartAsync(IReadOnlyDictionary<string, string?> settings, CancellationToken cancellationToken = default)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddWorkerServices();
        var host = builder.Build();
        await host.MigrateDatabaseAsync();
        await host.StartAsync(cancellationToken);
        return new WorkerHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(TimeSpan.FromSeconds(10));
        _host.Dispose();
    }
}
