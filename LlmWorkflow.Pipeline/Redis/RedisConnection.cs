using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// One socket to the server, pipelined: batches are queued FIFO, written by a single writer loop (which
/// coalesces whatever is queued into one flush) and matched to replies in order by a single reader loop.
/// Once faulted it stays faulted; the owner replaces it with a new connection.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    private const int FlushThreshold = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly string _endpoint;
    private readonly ILogger _logger;
    private readonly Channel<(IReadOnlyList<RedisCommand> Commands, ReplySink Sink)> _outgoing =
        Channel.CreateUnbounded<(IReadOnlyList<RedisCommand>, ReplySink)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Queue<ReplySink> _awaiting = new(); // also the lock that guards _fault
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _readLoop;
    private readonly Task _writeLoop;
    private RedisConnectionException? _fault;
    private long _lastProgress = Environment.TickCount64;

    private RedisConnection(Socket socket, Stream stream, string endpoint, ILogger logger)
    {
        _socket = socket;
        _stream = stream;
        _endpoint = endpoint;
        _logger = logger;
        _input = PipeReader.Create(stream);
        _output = PipeWriter.Create(stream);
        _readLoop = Task.Run(ReadLoopAsync);
        _writeLoop = Task.Run(WriteLoopAsync);
    }

    public bool IsConnected => Volatile.Read(ref _fault) is null;

    /// <summary>Opens the socket, negotiates TLS, authenticates and selects the database, all within the connect timeout.</summary>
    public static async Task<RedisConnection> ConnectAsync(RedisConnectionOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var endpoint = options.ToString();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        // Keep-alive probes detect a peer that vanished without closing, even under BLOCK 0 where no timeout applies.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 60);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        Stream? stream = null;
        RedisConnection? connection = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = options.SslHost ?? options.Host,
                        RemoteCertificateValidationCallback = options.CertificateValidation,
                    },
                    timeout.Token).ConfigureAwait(false);
            }
            connection = new RedisConnection(socket, stream, endpoint, logger);
            await connection.HandshakeAsync(options, timeout.Token).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            await (connection?.DisposeAsync() ?? ValueTask.CompletedTask).ConfigureAwait(false);
            await (stream?.DisposeAsync() ?? ValueTask.CompletedTask).ConfigureAwait(false);
            socket.Dispose();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new RedisConnectionException($"Could not connect to {endpoint} within {options.ConnectTimeout.TotalMilliseconds:0} ms.");
            }
            if (ex is SocketException or IOException or AuthenticationException)
            {
                throw new RedisConnectionException($"Could not connect to {endpoint}: {ex.Message}", ex);
            }
            throw;
        }
    }

    private async Task HandshakeAsync(RedisConnectionOptions options, CancellationToken cancellationToken)
    {
        List<RedisCommand> commands = [];
        if (options.Password is not null)
        {
            commands.Add(new("AUTH", options.User is null ? [options.Password] : [options.User, options.Password]));
        }
        if (options.Database != 0)
        {
            commands.Add(new("SELECT", [options.Database]));
        }
        if (commands.Count == 0)
        {
            return;
        }
        var replies = await SendAsync(commands).WaitAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < replies.Length; i++)
        {
            if (replies[i].IsError)
            {
                // The command name only: AUTH arguments are secrets.
                throw new RedisConnectionException($"Redis at {_endpoint} rejected {commands[i].Name}: {replies[i].AsString()}");
            }
        }
    }

    /// <summary>Queues a batch (arguments already validated); the task fails with <see cref="RedisConnectionException"/> if the connection drops first.</summary>
    public Task<RedisValue[]> SendAsync(IReadOnlyList<RedisCommand> commands)
    {
        var sink = new ReplySink(commands.Count);
        if (!_outgoing.Writer.TryWrite((commands, sink)))
        {
            sink.TrySetException(NewFaultException());
        }
        return sink.Task;
    }

    /// <summary>
    /// Called when a caller gave up waiting. If nothing at all arrived for that long while replies were due,
    /// the connection is presumed dead (e.g. a half-open TCP connection) and is faulted so it gets replaced.
    /// </summary>
    public void ReportTimeout(TimeSpan timeout)
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _lastProgress) >= (long)timeout.TotalMilliseconds)
        {
            Fault(new TimeoutException($"no reply for {timeout.TotalMilliseconds:0} ms"));
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            var reader = _outgoing.Reader;
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    lock (_awaiting)
                    {
                        if (_fault is not null)
                        {
                            item.Sink.TrySetException(NewFaultException());
                            continue;
                        }
                        if (_awaiting.Count == 0)
                        {
                            Interlocked.Exchange(ref _lastProgress, Environment.TickCount64);
                        }
                        _awaiting.Enqueue(item.Sink); // before the bytes leave, so the reply always finds its sink
                    }
                    foreach (var command in item.Commands)
                    {
                        RespWriter.Write(_output, command);
                    }
                    if (_output.UnflushedBytes >= FlushThreshold)
                    {
                        await FlushAsync().ConfigureAwait(false);
                    }
                }
                await FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Fault(ex);
        }
    }

    private async Task FlushAsync()
    {
        var result = await _output.FlushAsync(_stop.Token).ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled)
        {
            throw new IOException("The connection was closed while writing.");
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(_stop.Token).ConfigureAwait(false);
                var consumed = DeliverReplies(result.Buffer);
                _input.AdvanceTo(consumed, result.Buffer.End);
                if (result.IsCompleted)
                {
                    throw new IOException("The server closed the connection.");
                }
            }
        }
        catch (Exception ex)
        {
            Fault(ex);
        }
    }

    private SequencePosition DeliverReplies(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (RespReader.TryRead(ref reader, out var reply))
        {
            lock (_awaiting)
            {
                Interlocked.Exchange(ref _lastProgress, Environment.TickCount64);
                if (!_awaiting.TryPeek(out var sink))
                {
                    throw new RedisConnectionException($"Protocol error: unexpected reply '{reply}' with no command waiting.");
                }
                if (sink.Add(reply))
                {
                    _awaiting.Dequeue();
                }
            }
        }
        return reader.Position;
    }

    private void Fault(Exception cause)
    {
        List<ReplySink> failed;
        lock (_awaiting)
        {
            if (_fault is not null)
            {
                return;
            }
            _fault = cause as RedisConnectionException
                ?? new RedisConnectionException($"Connection to {_endpoint} lost: {cause.Message}", cause);
            failed = [.. _awaiting];
            _awaiting.Clear();
        }
        if (cause is not ObjectDisposedException)
        {
            LogConnectionLost(_logger, _endpoint, cause.Message);
        }
        _outgoing.Writer.TryComplete();
        while (_outgoing.Reader.TryRead(out var item))
        {
            failed.Add(item.Sink);
        }
        foreach (var sink in failed)
        {
            sink.TrySetException(NewFaultException());
        }
        _stop.Cancel();
        _socket.Dispose(); // unblocks a read or write stuck on the socket
    }

    // A fresh exception per awaiter, so concurrent callers do not share (and overwrite) one stack trace.
    private RedisConnectionException NewFaultException()
    {
        var fault = Volatile.Read(ref _fault);
        return new RedisConnectionException(fault?.Message ?? $"Connection to {_endpoint} is closed.", fault?.InnerException);
    }

    public async ValueTask DisposeAsync()
    {
        Fault(new ObjectDisposedException(nameof(RedisConnection), $"Connection to {_endpoint} was closed."));
        await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis connection to {Endpoint} lost: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string endpoint, string reason);
}
