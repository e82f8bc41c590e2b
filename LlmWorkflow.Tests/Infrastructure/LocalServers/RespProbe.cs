using System.Net.Sockets;
using System.Text;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>Just enough RESP to ask a Redis server whether it is ready, without a client library.</summary>
internal static class RespProbe
{
    /// <summary>Sends the commands on one connection and returns the first line of the last reply (e.g. <c>+PONG</c>).</summary>
    public static async Task<string> SendAsync(int port, IReadOnlyList<string[]> commands, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, cancellationToken);
        var stream = client.GetStream();
        var request = new StringBuilder();
        foreach (var command in commands)
        {
            request.Append('*').Append(command.Length).Append("\r\n");
            foreach (var part in command)
            {
                request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
            }
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var line = "";
        for (var i = 0; i < commands.Count; i++)
        {
            line = await reader.ReadLineAsync(cancellationToken)
                ?? throw new IOException("Redis closed the connection.");
        }

        return line;
    }
}
