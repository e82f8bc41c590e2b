using LlmWorkflow.AppHost.Resources;

namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// PostgreSQL for the services: a local server from the installed binaries (durable settings, data kept between
/// runs), or an existing server given by connection string, used as is.
/// </summary>
public sealed class PostgresServerResource : IResourceWithConnectionString, IAsyncDisposable
{
    private readonly string? _externalConnectionString;
    private readonly string _dataDirectory;
    private LocalPostgres? _server;
    private string? _connectionString;

    /// <summary>Declares the resource; a non-null <paramref name="externalConnectionString"/> means no local server.</summary>
    public PostgresServerResource(string name, string? externalConnectionString, string dataDirectory)
    {
        Name = name;
        _externalConnectionString = externalConnectionString;
        _dataDirectory = dataDirectory;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The database the services use on a local server; created when missing.</summary>
    public string DatabaseName { get; private set; } = "postgres";

    /// <inheritdoc />
    public string ConnectionString => _externalConnectionString
        ?? _connectionString
        ?? throw new InvalidOperationException($"{Name} has not started.");

    /// <summary>Uses (and creates when missing) this database on the local server.</summary>
    public PostgresServerResource WithDatabase(string databaseName)
    {
        DatabaseName = databaseName;
        return this;
    }

    /// <summary>Starts the local server and creates the database; nothing to do for an existing server.</summary>
    /// <exception cref="MissingServerBinariesException">PostgreSQL is not installed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_externalConnectionString is not null)
        {
            return;
        }

        _server = new LocalPostgres(new LocalPostgresOptions { DataDirectory = _dataDirectory });
        await _server.StartAsync(cancellationToken);
        _connectionString = await _server.CreateDatabaseIfMissingAsync(DatabaseName, cancellationToken);
    }

    /// <summary>The table row.</summary>
    public ResourceRow Row() => _externalConnectionString is not null
        ? new ResourceRow(Name, "External", null, _externalConnectionString)
        : new ResourceRow(Name, _server is { IsRunning: true } ? nameof(ResourceState.Running) : nameof(ResourceState.Stopped), _server?.ProcessId, _connectionString ?? "");

    /// <summary>Stops the local server cleanly.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
