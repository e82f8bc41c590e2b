using System.Net;
using LlmWorkflow.Engine.Network;

namespace LlmWorkflow.Storage.Webhooks;

/// <summary>
/// The submission-time check of a <c>webhook_url</c>: http(s) only, never a link-local or cloud metadata address or
/// metadata host name, and, unless private networks are allowed, no
/// literal non-public address (in any spelling <see cref="Uri"/> accepts: decimal, octal, hex, IPv4-mapped IPv6) and
/// no <c>localhost</c>. Host names are checked again at connect time against the addresses they resolve to.
/// </summary>
public static class WebhookUrlPolicy
{
    /// <summary>Why the URL is refused, or null when it is acceptable.</summary>
    public static string? Check(string url, bool allowPrivateNetworks)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return "webhook_url must be an absolute http:// or https:// URL.";
        }

        var literal = uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.DnsSafeHost, out var parsed)
            ? parsed
            : null;
        var host = uri.IdnHost.TrimEnd('.');
        if ((literal is not null ? NetworkAddressPolicy.NeverAllowedRange(literal) : NetworkAddressPolicy.IsMetadataHost(host) ? "cloud metadata" : null) is { } never)
        {
            return $"webhook_url points to a {never} address; link-local and cloud metadata addresses are never allowed, whatever Webhooks:AllowPrivateNetworks says.";
        }

        if (allowPrivateNetworks)
        {
            return null;
        }

        if (literal is { } address)
        {
            return NetworkAddressPolicy.BlockedRange(address) is { } range
                ? $"webhook_url points to a non-public address ({address}, {range}); private networks are not allowed for webhooks."
                : null;
        }

        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            ? "webhook_url points to localhost; private networks are not allowed for webhooks."
            : null;
    }
}
