using System.Net;
using System.Net.Sockets;

namespace LlmWorkflow.Engine.Network;

/// <summary>
/// The <see cref="SocketsHttpHandler.ConnectCallback"/> of webhook deliveries and of the generic <c>http</c> step: resolves the host once, refuses the
/// connection if any resolved address is link-local or cloud metadata (always) or non-public (unless allowed), and connects to exactly the addresses it
/// checked, so a DNS answer that changes between check and connect (rebinding) cannot slip through.
/// </summary>
public static class GuardedConnector
{
    /// <param name="setting">The setting that would allow private networks, named in the refusal.</param>
    public static async ValueTask<Stream> ConnectAsync(
        DnsEndPoint endpoint, bool allowPrivateNetworks, CancellationToken cancellationToken, string setting = "Webhooks:AllowPrivateNetworks")
    {
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        foreach (var address in addresses)
        {
            if (NetworkAddressPolicy.NeverAllowedRange(address) is { } never)
            {
                throw new WebhookDestinationBlockedException(
                    $"Host '{endpoint.Host}' resolves to {address} ({never}); link-local and cloud metadata addresses are never allowed.");
            }

            if (!allowPrivateNetworks && NetworkAddressPolicy.BlockedRange(address) is { } range)
            {
                throw new WebhookDestinationBlockedException(
                    $"Host '{endpoint.Host}' resolves to {address} ({range}); private networks are not allowed ({setting}).");
            }
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
