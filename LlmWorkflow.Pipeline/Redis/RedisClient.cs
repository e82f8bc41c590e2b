using System.Collections.Concurrent;
using System.Diagnostics;
using LlmWorkflow.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// RESP2 client over a small pool of pipelined connections for ordinary commands, plus reusable dedicated
/// connections for blocking ones. Connections open lazily, and reopen (with backoff) after they drop; commands
/// in flight on a dropped connection fail with <see cref="RedisConnectionException"/>. Thread-safe; share one instance.
/// </summary>
public sealed partial class RedisClient : IRedisClient
{
    private readonly RedisConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly ConnectionSlot[] _shared;
    private readonly ConcurrentBag<RedisConnection> _idleBlocking = [];
    private readonly ReconnectBackoff _backoff = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
    private readonly CancellationTokenSource _disposed = new();
    private int _nextSlot;

    public RedisClient(RedisConnectionOptions options, ILogger<RedisClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PoolSize, 1);
        _options = options;
        _logger = logger ?? NullLogger<RedisClient>.Instance;
        _shared = [.. Enumerable.Range(0, options.PoolSize).Select(_ => new ConnectionSlot(ConnectAsync))];
    }

    /// <summary>Creates a client from a connection string (see <see cref="RedisConnectionOptions.Parse"/>); connections open on first use.</summary>
    public static RedisClient Connect(string connectionString, ILogger<RedisClient>? logger = null) =>
        new(RedisConnectionOptions.Parse(connectionString), logger);

    public RedisConnectionOptions Options => _options;

    public async Task<RedisValue> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken ct = default)
    {
        using var span = StartSpan(command, 1);
        try
        {
            var reply = (await SendAsync([new RedisCommand(command, args)], ct).ConfigureAwait(false))[0];
            return reply.IsError ? throw new RedisServerException(reply.AsString()!) : reply;
        }
        catch (Exception ex) when (span is not null)
        {
            span.RecordFailure(ex.GetType().Name, ex.Message, ex);
            throw;
        }
    }

    public async Task<IReadOnlyList<RedisValue>> PipelineAsync(IReadOnlyList<RedisCommand> commands, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (commands.Count == 0)
        {
            return [];
        }

        // Named for its one command, else PIPELINE; a transaction for the commands it wraps (MULTI and EXEC are framing).
        string? name = null;
        var operations = 0;
        foreach (var command in commands)
        {
            if (command.Name is not (RedisTransactionCommands.Multi or RedisTransactionCommands.Exec))
            {
                operations++;
                name = name is null || name == command.Name ? command.Name : "PIPELINE";
            }
        }

        using var span = StartSpan(name ?? "PIPELINE", Math.Max(1, operations));
        try
        {
            return await SendAsync(commands, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (span is not null)
        {
            span.RecordFailure(ex.GetType().Name, ex.Message, ex);
            throw;
        }
    }

    public async Task<RedisValue> ExecuteBlockingAsync(string command, IReadOnlyList<object> args, TimeSpan block, CancellationToken ct = default)
    {
        using var span = StartSpan(command, 1);
        try
        {
            return await ExecuteBlockingCoreAsync(command, args, block, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (span is not null)
        {
            span.RecordFailure(ex.GetType().Name, ex.Message, ex);
            throw;
        }
    }

    /// <summary>
    /// A client span per command (or per pipeline: its one command name, else PIPELINE) with the OpenTelemetry
    /// database conventions. Idle polling makes root spans of this source, which the service sampler drops.
    /// </summary>
    private Activity? StartSpan(string operation, int batchSize)
    {
        var span = RedisTelemetry.ActivitySource.StartActivity(operation.ToUpperInvariant(), ActivityKind.Client);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("db.system.name", "redis");
            span.SetTag("db.operation.name", operation.ToUpperInvariant());
            span.SetTag("db.namespace", _options.Database.ToString(System.Globalization.CultureInfo.InvariantCulture));
            span.SetTag("server.address", _options.Host);
            span.SetTag("server.port", _options.Port);
            if (batchSize > 1)
            {
                span.SetTag("db.operation.batch.size", batchSize);
            }
        }

        return span;
    }

    private async Task<RedisValue> ExecuteBlockingCoreAsync(string command, IReadOnlyList<object> args, TimeSpan block, CancellationToken ct)
    {
        RedisCommand[] batch = [new(command, args)];
        Prepare(batch, ct);
        var connection = await RentBlockingAsync(ct).ConfigureAwait(false);
        var timeout = block <= TimeSpan.Zero ? Timeout.InfiniteTimeSpan : block + _options.CommandTimeout;
        RedisValue reply;
        try
        {
            reply = (await connection.SendAsync(batch).WaitAsync(timeout, ct).ConfigureAwait(false))[0];
        }
        catch (TimeoutException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw NewTimeout(command, timeout);
        }
        catch
        {
            // The server may still be blocked on this connection (or send a late reply): never reuse it.
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        await ReturnBlockingAsync(connection).ConfigureAwait(false);
        return reply.IsError ? throw new RedisServerException(reply.AsString()!) : reply;
    }

    private async Task<RedisValue[]> SendAsync(IReadOnlyList<RedisCommand> commands, CancellationToken ct)
    {
        Prepare(commands, ct);
        var slot = _shared[(int)((uint)Interlocked.Increment(ref _nextSlot) % _shared.Length)];
        var connection = await slot.GetAsync().WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // A cancelled or timed-out caller stops waiting, but the batch stays queued on the connection, so its
            // replies are still read and later replies stay matched to the right commands.
            return await connection.SendAsync(commands).WaitAsync(_options.CommandTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            connection.ReportTimeout(_options.CommandTimeout);
            throw NewTimeout(commands[0].Name, _options.CommandTimeout);
        }
    }

    private void Prepare(IReadOnlyList<RedisCommand> commands, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        foreach (var command in commands)
        {
            RespWriter.Validate(command);
        }
        ct.ThrowIfCancellationRequested();
    }

    private async Task<RedisConnection> RentBlockingAsync(CancellationToken ct)
    {
        while (_idleBlocking.TryTake(out var idle))
        {
            if (idle.IsConnected)
            {
                return idle;
            }
            await idle.DisposeAsync().ConfigureAwait(false);
        }
        var connecting = ConnectAsync();
        try
        {
            return await connecting.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Nobody will use the connection being opened: close it once it is there.
            _ = connecting.ContinueWith(
                task => task.Result.DisposeAsync().AsTask(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw;
        }
    }

    private async Task ReturnBlockingAsync(RedisConnection connection)
    {
        if (_idleBlocking.Count < _options.BlockingPoolSize && !_disposed.IsCancellationRequested)
        {
            _idleBlocking.Add(connection);
            if (!_disposed.IsCancellationRequested)
            {
                return;
            }
            await DisposeIdleBlockingAsync().ConfigureAwait(false); // lost a race with DisposeAsync
            return;
        }
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<RedisConnection> ConnectAsync()
    {
        _backoff.ThrowIfWaiting();
        try
        {
            var connection = await RedisConnection.ConnectAsync(_options, _logger, _disposed.Token).ConfigureAwait(false);
            _backoff.Succeeded();
            LogConnected(_logger, _options.ToString());
            return connection;
        }
        catch (RedisConnectionException ex)
        {
            _backoff.Failed(ex);
            LogConnectFailed(_logger, _options.ToString(), ex.Message);
            throw;
        }
    }

    private RedisTimeoutException NewTimeout(string command, TimeSpan timeout) =>
        new($"Redis did not answer {command} within {timeout.TotalMilliseconds:0} ms ({_options}).");

    private async Task DisposeIdleBlockingAsync()
    {
        while (_idleBlocking.TryTake(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }
        await _disposed.CancelAsync().ConfigureAwait(false);
        foreach (var slot in _shared)
        {
            await slot.DisposeAsync().ConfigureAwait(false);
        }
        await DisposeIdleBlockingAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connected to Redis at {Endpoint}")]
    private static partial void LogConnected(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not connect to Redis at {Endpoint}: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string endpoint, string reason);
}
