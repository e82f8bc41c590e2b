using System.Net;
using System.Net.Sockets;

namespace LlmWorkflow.AppHost.Resources;

/// <summary>Hands out TCP ports that are free on the loopback interface.</summary>
public static class PortAllocator
{
    /// <summary>Returns a port that was free on 127.0.0.1 a moment ago (the OS picks it by binding port 0).</summary>
    public static int GetFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
