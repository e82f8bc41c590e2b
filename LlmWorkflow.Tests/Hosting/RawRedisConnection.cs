using System.Net.Sockets;
using System.Text;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// A bare RESP connection for checking a redis-server from tests without any client library: it understands only
/// simple strings, errors, integers and bulk strings, which is all these tests send for.
/// </summary>
internal sealed class RawRedisConnection : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private RawRedisConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<RawRedisConnection> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, cancellationToken);
        return new RawRedisConnection(client);
    }

    /// <summary>Sends one command; returns simple strings/errors/integers as their raw line (<c>+OK</c>), bulk strings as their value, nil as null.</summary>
    public async Task<string?> SendAsync(CancellationToken cancellationToken, params string[] command)
    {
        var request = new StringBuilder().Append('*').Append(command.Length).Append("\r\n");
        foreach (var part in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), cancellationToken);
        var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new IOException("Redis closed the connection.");
        return line switch
        {
            "$-1" => null,
            ['$', ..] => await _reader.ReadLineAsync(cancellationToken),
            _ => line,
        };
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
