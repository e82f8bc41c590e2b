using LlmWorkflow.AppHost.Resources;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// Redis for the services: a local redis-server with the append-only file on (data kept between runs), or an
/// existing server given by connection string, used as is.
/// </summary>
public sealed class RedisServerResource : IResourceWithConnectionString, IAsyncDisposable
{
    private readonly string? _externalConnectionString;
    private readonly string _dataDirectory;
    private LocalRedis? _server;

    /// <summary>Declares the resource; a non-null <paramref name="externalConnectionString"/> means no local server.</summary>
    public RedisServerResource(string name, string? externalConnectionString, string dataDirectory)
    {
        Name = name;
        _externalConnectionString = externalConnectionString;
        _dataDirectory = dataDirectory;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string ConnectionString => _externalConnectionString
        ?? _server?.ConnectionString
        ?? throw new InvalidOperationException($"{Name} has not started.");

    /// <summary>Starts the local server; nothing to do for an existing server.</summary>
    /// <exception cref="MissingServerBinariesException">redis-server is not installed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_externalConnectionString is not null)
        {
            return;
        }

        _server = new LocalRedis(new LocalRedisOptions { DataDirectory = _dataDirectory });
        await _server.StartAsync(cancellationToken);
    }

    /// <summary>The table row.</summary>
    public ResourceRow Row() => _externalConnectionString is not null
        ? new ResourceRow(Name, "External", null, _externalConnectionString)
        : new ResourceRow(Name, _server?.ProcessId is null ? nameof(ResourceState.Exited) : nameof(ResourceState.Running), _server?.ProcessId, _server?.ConnectionString ?? "");

    /// <summary>Stops the local server cleanly (Redis flushes its append-only file).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
