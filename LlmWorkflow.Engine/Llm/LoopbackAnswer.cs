using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Serves one HTTP/1.1 answer on a loopback port of this process, to one request: <see cref="LlmRehearsal"/> sends its
/// call there through the provider's real transport (connection pool, socket, HTTP/1.1 reader and writer), so that a
/// worker has run that path once before hundreds of calls open connections at the same time. It reads the request's
/// head and its <c>Content-Length</c> body, answers with <c>Connection: close</c> and stops; nothing else is served.
/// </summary>
internal sealed class LoopbackAnswer : IAsyncDisposable
{
    /// <summary>Larger requests are refused: the rehearsal's is well under a kilobyte.</summary>
    private const int MaxRequestBytes = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly Task _serving;

    private LoopbackAnswer(TcpListener listener, string contentType, string body, CancellationToken cancellationToken)
    {
        _listener = listener;
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        _serving = ServeAsync(contentType, Encoding.UTF8.GetBytes(body), cancellationToken);
    }

    /// <summary>Where the answer is served, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>Starts listening on a free loopback port; the answer goes to the first request that arrives.</summary>
    public static LoopbackAnswer Start(string contentType, string body, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(backlog: 1);
        return new LoopbackAnswer(listener, contentType, body, cancellationToken);
    }

    /// <summary>Completes once the answer was written; throws what went wrong if it could not be.</summary>
    public Task Served => _serving;

    private async Task ServeAsync(string contentType, byte[] body, CancellationToken cancellationToken)
    {
        using var client = await _listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
        var stream = client.GetStream();
        await ReadRequestAsync(stream, cancellationToken).ConfigureAwait(false);
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(head, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one request: its head up to the blank line, then as many body bytes as its Content-Length says.</summary>
    internal static async Task ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var read = 0;
        int? expected = null;
        while (expected is null || read < expected)
        {
            if (read == buffer.Length)
            {
                throw new InvalidDataException($"The request is larger than {MaxRequestBytes} bytes.");
            }

            var count = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                throw new EndOfStreamException("The connection closed before the request was complete.");
            }

            read += count;
            if (expected is null && buffer.AsSpan(0, read).IndexOf("\r\n\r\n"u8) is >= 0 and var headEnd)
            {
                expected = headEnd + 4 + ContentLength(Encoding.ASCII.GetString(buffer, 0, headEnd));
            }
        }
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                return int.TryParse(line.AsSpan(colon + 1).Trim(), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var length)
                    ? length
                    : throw new InvalidDataException("The request's Content-Length is not a number.");
            }
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _serving.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException or InvalidDataException)
        {
            // Stopped before (or while) a request came, or the request was not one it reads: nothing was served.
        }
    }
}
