using System.Security.Cryptography;
using System.Text;

namespace LlmWorkflow.Worker.Webhooks;

/// <summary>
/// The two signature schemes sent on every delivery, both over the exact body bytes:
/// the documents' <c>X-Webhook-Signature: sha256=&lt;hex&gt;</c> and Standard Webhooks' <c>webhook-signature: v1,&lt;base64&gt;</c>.
/// </summary>
internal static class WebhookSignatures
{
    /// <summary>Prefix of Standard Webhooks secrets; the rest is the base64 of the key bytes.</summary>
    public const string StandardSecretPrefix = "whsec_";

    /// <summary><c>sha256=</c> + lowercase hex HMAC-SHA256 of the body, keyed by the secret's UTF-8 bytes (what the documents' receivers check).</summary>
    public static string Legacy(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>
    /// Standard Webhooks: <c>v1,</c> + base64 HMAC-SHA256 of <c>"{id}.{timestamp}.{body}"</c>, one per secret, space-separated
    /// (several during a rotation, so receivers holding either secret accept the delivery).
    /// </summary>
    public static string Standard(IEnumerable<string> secrets, string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));

        var signatures = new List<string>();
        foreach (var secret in secrets)
        {
            signatures.Add("v1," + Convert.ToBase64String(HMACSHA256.HashData(StandardKey(secret), content)));
        }

        return string.Join(' ', signatures);
    }

    /// <summary>The HMAC key of a secret: the decoded bytes of <c>whsec_&lt;base64&gt;</c>, otherwise the secret's UTF-8 bytes.</summary>
    public static byte[] StandardKey(string secret)
    {
        if (secret.StartsWith(StandardSecretPrefix, StringComparison.Ordinal))
        {
            var encoded = secret[StandardSecretPrefix.Length..];
            var buffer = new byte[encoded.Length];
            if (Convert.TryFromBase64String(encoded, buffer, out var written) && written > 0)
            {
                return buffer[..written];
            }
        }

        return Encoding.UTF8.GetBytes(secret);
    }
}
