using LlmWorkflow.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>A real Worker host in-process (same composition as the Worker's Program) for end-to-end tests.</summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly IHost _host;

    private WorkerHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    /// <param name="logs">Also receives the host's logs, for tests that read them.</param>
    public static async Task<WorkerHost> StartAsync(IReadOnlyDictionary<string, string?> settings, CancellationToken cancellationToken = default, ILoggerProvider? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddWorkerServices();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

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
