using System.Text.RegularExpressions;
using LlmWorkflow.Engine.Execution;

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

        text = QueryParameter().Replace(text, m => SecretNames.IsSecret(m.Groups["name"].Value.TrimStart('?', '&', ';'))
            ? m.Groups["name"].Value + "=" + Mask
            : m.Value);
        return ProviderKeyFormat().Replace(text, Mask);
    }

    /// <summary>True for parameter or header names that carry credentials, by the one rule list in <see cref="SecretNames"/>.</summary>
    public static bool IsSecretName(string name) => SecretNames.IsSecret(name);

    // A name starts where a run of name characters starts (the look-behind) and is taken whole (atomic): without
    // both, a long run with no '=' after it (40 KB of step input) was retried from each of its characters, in
    // quadratic time. Neither changes what matches: the leftmost start of a run is the only one that can.
    [GeneratedRegex(@"(?<name>[?&;]?(?<![\w.-])(?>[\w.-]+))=[^&\s""']+")]
    private static partial Regex QueryParameter();

    [GeneratedRegex(@"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}|\bAIza[0-9A-Za-z_\-]{20,}")]
    private static partial Regex ProviderKeyFormat();

}
