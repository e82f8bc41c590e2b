using System.Net.Sockets;
using System.Text;
using LlmWorkflow.Tests.Dashboard;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// A declared-too-large body gets its 413 even from a client that, like most HTTP/1.1 clients, writes the whole body
/// before it reads (real Kestrel, a raw socket): the API reads and discards the body first, so every write succeeds,
/// the answer arrives, and the connection serves the next request. A body past the drain bound is answered at once.
/// </summary>
[IntegrationTest]
public sealed class OversizedBodyTests(TestServers servers)
{
    [Fact]
    public async Task AClientThatWritesTheWholeBodyFirstReadsThe413AndKeepsItsConnection()
    {
        var ct = TestContext.Current.CancellationToken;
        var environment = await TestEnvironment.CreateAsync(servers, nameof(OversizedBodyTests));
        await using var api = RealApiHost.Start(environment.Settings());
        using var client = new TcpClient();
        await client.ConnectAsync(api.BaseAddress.Host, api.BaseAddress.Port, ct);
        var stream = client.GetStream();
        const int length = 1_100_000; // over the 1 MiB default limit

        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/v1/workflow HTTP/1.1\r\nHost: test\r\nX-API-Key: {TestEnvironment.CallerKey}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"), ct);
        // Slowly, in pieces: a server that answered and closed at once would make a later write fail.
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)' ');
        for (var sent = 0; sent < length; sent += chunk.Length)
        {
            await stream.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, length - sent)), ct);
            await Task.Delay(10, ct);
        }

        var answer = await ReadResponseAsync(stream, ct);
        Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
        Assert.Contains("Request body too large", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("Connection: close", answer, StringComparison.OrdinalIgnoreCase);

        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /alive HTTP/1.1\r\nHost: test\r\n\r\n"), ct);
        Assert.StartsWith("HTTP/1.1 200", await ReadResponseAsync(stream, ct), StringComparison.Ordinal);
    }

    /// <summary>Reads one response: a Content-Length body, or a chunked one up to its last chunk.</summary>
    private static async Task<string> ReadResponseAsync(NetworkStream stream, CancellationToken ct)
    {
        var received = new List<byte>();
        var buffer = new byte[8192];
        while (true)
        {
            var text = Encoding.UTF8.GetString(received.ToArray());
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd >= 0)
            {
                var headers = text[..headerEnd].Split("\r\n");
                if (headers.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
                {
                    if (text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
                    {
                        return text;
                    }
                }
                else
                {
                    var lengthLine = headers.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                    var bodyLength = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    if (received.Count >= headerEnd + 4 + bodyLength)
                    {
                        return text;
                    }
                }
            }

            var read = await stream.ReadAsync(buffer, ct);
            Assert.True(read > 0, "The server closed the connection before its answer was complete.");
            received.AddRange(buffer.AsSpan(0, read));
        }
    }
}
