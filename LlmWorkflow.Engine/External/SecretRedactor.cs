using System.Text.RegularExpressions;

namespace LlmWorkflow.Engine.External;

/// <summary>
/// Removes credentials from text that leaves the process (errors, details, logs): known secret values,
/// key-like query parameters (<c>?key=…</c>, <c>api_key=…</c>) and provider key formats (<c>sk-…</c>).
/// </summary>
public static partial class SecretRedactor
{
    public const string Mask = "[REDACTED]";

    public static string Redact(string? text, IEnumerable<string?>? secrets = null)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        if (secrets is not null)
        {
            foreach (var secret in secrets)
            {
                // Very short values would mask ordinary words; real keys are long.
                if (secret is { Length: >= 6 })
                {
                    text = text.Replace(secret, Mask, StringComparison.Ordinal);
                }
            }
        }

        text = SecretQueryParameter().Replace(text, m => m.Groups["name"].Value + "=" + Mask);
        return ProviderKeyFormat().Replace(text, Mask);
    }

    /// <summary>True for parameter or header names that carry credentials (key, token, secret, password, auth).</summary>
    public static bool IsSecretName(string name) => SecretName().IsMatch(name);

    [GeneratedRegex(@"(?<name>[?&;]?[\w.-]*(?:key|token|secret|password|signature|auth)[\w.-]*)=[^&\s""']+", RegexOptions.IgnoreCase)]
    private static partial Regex SecretQueryParameter();

    [GeneratedRegex(@"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}|\bAIza[0-9A-Za-z_\-]{20,}")]
    private static partial Regex ProviderKeyFormat();

    [GeneratedRegex(@"key|token|secret|password|auth|signature|credential", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}
