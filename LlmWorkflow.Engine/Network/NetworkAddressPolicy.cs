using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace LlmWorkflow.Engine.Network;

/// <summary>
/// Which addresses a webhook may not reach unless private networks are allowed: everything that is not a public
/// unicast address (loopback, private, link-local incl. cloud metadata, CGNAT, multicast, reserved, IPv6 unique-local),
/// including IPv4 addresses hidden in IPv6 forms (IPv4-mapped, IPv4-compatible, NAT64). Link-local and cloud metadata
/// addresses are refused even where private networks are allowed (<see cref="NeverAllowedRange"/>): a development setting
/// that lets webhooks reach a local receiver must not let them read a cloud VM's credentials.
/// </summary>
public static class NetworkAddressPolicy
{
    /// <summary>Instance metadata services outside 169.254.0.0/16: AWS over IPv6, Alibaba Cloud.</summary>
    private static readonly IPAddress[] MetadataAddresses = [IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("100.100.100.200")];

    /// <summary>Host names of metadata services (they resolve to a link-local address, refused anyway at connect time).</summary>
    private static readonly string[] MetadataHosts = ["metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"];

    /// <summary>
    /// The name of the range of an address no setting allows (link-local IPv4 and IPv6, cloud metadata addresses, in
    /// any IPv6 form that embeds IPv4), or null.
    /// </summary>
    public static string? NeverAllowedRange(IPAddress address)
    {
        var ipv4 = EmbeddedIPv4(address);
        if (MetadataAddresses.Any(m => m.Equals(address) || m.Equals(ipv4)))
        {
            return $"cloud metadata ({ipv4 ?? address})";
        }

        if (ipv4 is not null)
        {
            Span<byte> four = stackalloc byte[4];
            ipv4.TryWriteBytes(four, out _);
            return four[0] == 169 && four[1] == 254 ? "link-local (169.254.0.0/16, cloud metadata)" : null;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return address.AddressFamily == AddressFamily.InterNetworkV6 && bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80
            ? "link-local (fe80::/10)"
            : null;
    }

    /// <summary>Whether a host name is that of a cloud metadata service.</summary>
    public static bool IsMetadataHost(string host) =>
        MetadataHosts.Contains(host.TrimEnd('.'), StringComparer.OrdinalIgnoreCase);

    /// <summary>The IPv4 address an address is or embeds (IPv4-mapped, IPv4-compatible, NAT64), or null.</summary>
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6 || address.Equals(IPAddress.IPv6Loopback) || address.Equals(IPAddress.IPv6Any))
        {
            return null;
        }

        var bytes = address.GetAddressBytes();
        var isCompatible = bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0;
        var isNat64 = bytes.AsSpan(0, 12).SequenceEqual(new byte[] { 0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0 });
        return isCompatible || isNat64 ? new IPAddress(bytes.AsSpan(12)) : null;
    }

    private static readonly (uint Network, int Prefix, string Name)[] BlockedIPv4 =
    [
        (0x00000000, 8, "this-network (0.0.0.0/8)"),
        (0x0A000000, 8, "private (10.0.0.0/8)"),
        (0x64400000, 10, "carrier-grade NAT (100.64.0.0/10)"),
        (0x7F000000, 8, "loopback (127.0.0.0/8)"),
        (0xA9FE0000, 16, "link-local (169.254.0.0/16, cloud metadata)"),
        (0xAC100000, 12, "private (172.16.0.0/12)"),
        (0xC0000000, 24, "IETF protocol assignments (192.0.0.0/24)"),
        (0xC0000200, 24, "documentation (192.0.2.0/24)"),
        (0xC0A80000, 16, "private (192.168.0.0/16)"),
        (0xC6120000, 15, "benchmarking (198.18.0.0/15)"),
        (0xC6336400, 24, "documentation (198.51.100.0/24)"),
        (0xCB007100, 24, "documentation (203.0.113.0/24)"),
        (0xE0000000, 4, "multicast (224.0.0.0/4)"),
        (0xF0000000, 4, "reserved (240.0.0.0/4)"),
    ];

    /// <summary>The name of the blocked range the address is in, or null for a public address.</summary>
    public static string? BlockedRange(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return BlockedRange(address.MapToIPv4());
        }

        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => BlockedIPv4Range(address),
            AddressFamily.InterNetworkV6 => BlockedIPv6Range(address),
            _ => "non-IP address",
        };
    }

    private static string? BlockedIPv4Range(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        var value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        foreach (var (network, prefix, name) in BlockedIPv4)
        {
            var mask = uint.MaxValue << (32 - prefix);
            if ((value & mask) == network)
            {
                return name;
            }
        }

        return null;
    }

    private static string? BlockedIPv6Range(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return "loopback (::1)";
        }

        if (address.Equals(IPAddress.IPv6Any))
        {
            return "unspecified (::)";
        }

        if ((bytes[0] & 0xFE) == 0xFC)
        {
            return "unique-local (fc00::/7)";
        }

        if (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80)
        {
            return "link-local (fe80::/10)";
        }

        if (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0xC0)
        {
            return "site-local (fec0::/10)";
        }

        if (bytes[0] == 0xFF)
        {
            return "multicast (ff00::/8)";
        }

        // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms reach the embedded IPv4 address.
        var isCompatible = bytes[..12].IndexOfAnyExcept((byte)0) < 0;
        var isNat64 = bytes[..12].SequenceEqual(new byte[] { 0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0 });
        if (isCompatible || isNat64)
        {
            return BlockedIPv4Range(new IPAddress(bytes[12..]));
        }

        return null;
    }
}
