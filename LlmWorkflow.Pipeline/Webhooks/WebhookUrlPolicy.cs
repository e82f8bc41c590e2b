using System.Net;
using LlmWorkflow.Engine.Network;

namespace LlmWorkflow.Pipeline.Webhooks;

/// <summary>
/// The submission-time check of a <c>webhook_url</c>: http(s) only, and, unless private networks are allowed, no
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

        if (allowPrivateNetworks)
        {
            return null;
        }

        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.DnsSafeHost, out var address))
        {
            return NetworkAddressPolicy.BlockedRange(address) is { } range
                ? $"webhook_url points to a non-public address ({address}, {range}); private networks are not allowed for webhooks."
                : null;
        }

        var host = uri.IdnHost.TrimEnd('.');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            ? "webhook_url points to localhost; private networks are not allowed for webhooks."
            : null;
    }
}
