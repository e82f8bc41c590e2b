using System.Security.Cryptography;
using System.Text;

namespace LlmWorkflow.Tests.Webhooks;

/// <summary>Why a receiver refused a delivery.</summary>
public enum VerificationResult
{
    Valid,
    MissingHeaders,
    StaleTimestamp,
    BadSignature,
}

/// <summary>
/// A receiver's check, written from the Standard Webhooks specification independently of the service's signer:
/// timestamp within the tolerance, then any <c>v1,</c> signature in the header matching HMAC-SHA256 of
/// <c>"{id}.{timestamp}.{body}"</c>, compared in constant time.
/// </summary>
public static class StandardWebhooksVerifier
{
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    public static VerificationResult Verify(string secret, string? id, string? timestamp, string? signatures, byte[] body, DateTimeOffset now)
    {
        if (id is null || !long.TryParse(timestamp, out var seconds) || signatures is null)
        {
            return VerificationResult.MissingHeaders;
        }

        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Tolerance)
        {
            return VerificationResult.StaleTimestamp;
        }

        var key = secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(secret["whsec_".Length..]) : Encoding.UTF8.GetBytes(secret);
        byte[] signedContent = [.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body];
        var expected = HMACSHA256.HashData(key, signedContent);
        foreach (var entry in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split(',', 2);
            if (parts is ["v1", var encoded] && CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(encoded), expected))
            {
                return VerificationResult.Valid;
            }
        }

        return VerificationResult.BadSignature;
    }

    /// <summary>The documents' check of <c>X-Webhook-Signature: sha256=&lt;hex&gt;</c>.</summary>
    public static bool VerifyLegacy(string secret, string? header, byte[] body) =>
        header is not null && header.StartsWith("sha256=", StringComparison.Ordinal) &&
        CryptographicOperations.FixedTimeEquals(
            Convert.FromHexString(header["sha256=".Length..]),
            HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}
