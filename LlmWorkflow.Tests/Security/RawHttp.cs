using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// Sends one HTTP/1.1 request over a plain socket with header bytes exactly as given (Latin-1, NUL included), which
/// HttpClient refuses to send. Returns the status code of the response's status line.
/// </summary>
public static class RawHttp
{
    public static async Task<HttpStatusCode> SendAsync(
        Uri server, string method, string pathAndQuery, IEnumerable<(string Name, string Value)> headers, byte[]? body, string? contentType, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cancellationToken);
        await using var stream = client.GetStream();
        var head = new StringBuilder($"{method} {pathAndQuery} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body is not null)
        {
            head.Append("Content-Type: ").Append(contentType ?? "application/json").Append("\r\n");
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), cancellationToken);
        if (body is not null)
        {
            await stream.WriteAsync(body, cancellationToken);
        }

        using var reader = new StreamReader(stream, Encoding.Latin1);
        var statusLine = await reader.ReadLineAsync(cancellationToken) ?? throw new IOException("The server closed the connection without a response.");
        var parts = statusLine.Split(' ', 3);
        return (HttpStatusCode)int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
