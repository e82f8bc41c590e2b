using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LlmWorkflow.Tests.LocalServers;

/// <summary>
/// Hands out TCP ports that are free on the loopback interface, for servers that bind them a moment later. The ports
/// come from below the kernel's ephemeral range (Linux: <c>ip_local_port_range</c>, 32768–60999 by default), which
/// the kernel never picks itself: a port it picked for a <c>bind(0)</c> could become the source port of an outgoing
/// connection, or another <c>bind(0)</c>, before its server binds it (a test run saw <c>EADDRINUSE</c> that way). Each
/// port is handed out once per process, at random, so two processes rarely try the same one.
/// </summary>
public static class PortAllocator
{
    /// <summary>The lowest port handed out: above the registered well-known services most machines run.</summary>
    internal const int Lowest = 10_000;

    private const string LinuxEphemeralRange = "/proc/sys/net/ipv4/ip_local_port_range";

    /// <summary>Below Windows' and macOS's ephemeral range (49152 up); Linux's own is read from the kernel.</summary>
    private const int DefaultEphemeralStart = 32_768;

    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>The first port of the range, exclusive: the kernel's first ephemeral port.</summary>
    internal static int Highest { get; } = EphemeralStart();

    /// <summary>Returns a port that was free on 127.0.0.1 a moment ago and is outside the ephemeral range.</summary>
    public static int GetFreePort()
    {
        if (Highest - Lowest < 1_000)
        {
            // An ephemeral range reaching down here leaves no safe room: let the kernel pick, as before.
            return KernelPicked();
        }

        for (var attempt = 0; attempt < 1_000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, Highest);
            if (HandedOut.TryAdd(port, true) && IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free TCP port between {Lowest} and {Highest} on 127.0.0.1 after 1,000 tries.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int KernelPicked()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int EphemeralStart()
    {
        try
        {
            var first = File.ReadAllText(LinuxEphemeralRange).Split(['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            return int.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return DefaultEphemeralStart;
        }
    }
}
