using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LlmWorkflow.AppHost.Resources;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// The ports handed to servers that bind them later lie below the kernel's ephemeral range, so no <c>bind(0)</c> or
/// outgoing connection can take one in between, and none is handed out twice.
/// </summary>
public sealed class PortAllocatorTests
{
    [Fact]
    public void PortsAreFreeDistinctAndBelowTheKernelsEphemeralRange()
    {
        var ephemeralStart = int.Parse(
            File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split(['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0],
            CultureInfo.InvariantCulture);
        Assert.Equal(ephemeralStart, PortAllocator.Highest);

        var ports = Enumerable.Range(0, 200).Select(_ => PortAllocator.GetFreePort()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, PortAllocator.Lowest, ephemeralStart - 1));
        using var listener = new TcpListener(IPAddress.Loopback, ports[0]);
        listener.Start(); // free for the server it was handed to
    }

    [Fact]
    public void APortSomeoneListensOnIsNeverHandedOut()
    {
        // Most of the range taken by listeners of this test: every port handed out is one of the rest.
        var taken = new List<TcpListener>();
        try
        {
            for (var port = PortAllocator.Lowest; port < PortAllocator.Lowest + 500; port++)
            {
                var listener = new TcpListener(IPAddress.Loopback, port);
                try
                {
                    listener.Start();
                    taken.Add(listener);
                }
                catch (SocketException)
                {
                    listener.Dispose();
                }
            }

            var listening = taken.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToHashSet();
            var handedOut = Enumerable.Range(0, 300).Select(_ => PortAllocator.GetFreePort()).ToList();
            Assert.DoesNotContain(handedOut, listening.Contains);
        }
        finally
        {
            taken.ForEach(l => l.Dispose());
        }
    }
}
