using System.Security.Cryptography;
using System.Text;

namespace LlmWorkflow.Api.Auth;

/// <summary>
/// The secret of a database key: <c>lwk_</c> and 32 random bytes (256 bits) in base64url. Because it is random and
/// long, one SHA-256 digest is a safe way to store it (no salt or slow hash needed: there is nothing to guess).
/// The first characters are its <see cref="Prefix"/>, shown in lists so people can tell keys apart.
/// </summary>
public static class ApiKeySecret
{
    /// <summary>Every database key starts with this; other presented keys are never looked up in the database.</summary>
    public const string Marker = "lwk_";

    /// <summary>Characters of the key shown for identification: the marker and 8 of the 43 random ones (48 of 256 bits).</summary>
    public const int PrefixLength = 12;

    public static string New() => Marker + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Prefix(string key) => key[..PrefixLength];

    /// <summary>The SHA-256 digest of a presented or new key, as stored and compared.</summary>
    public static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Whether a presented key can be a database key at all (saves a database round trip for anything else).</summary>
    public static bool LooksLikeDatabaseKey(string presented) =>
        presented.Length == PrefixLength + 35 && presented.StartsWith(Marker, StringComparison.Ordinal);
}
