using System.Text.RegularExpressions;

namespace LlmWorkflow.ServiceDefaults.Logging;

/// <summary>
/// Removes API keys from log lines: the value of an <c>api_key=</c> query parameter (the events route accepts the key
/// there, and ASP.NET Core logs request URLs at Information) and anything shaped like a database key (<c>lwk_</c> and
/// 43 characters), of which only the non-secret 12-character prefix is kept.
/// </summary>
public static partial class ApiKeyRedactor
{
    public const string Marker = "[REDACTED]";

    /// <summary>The cheap test that keeps most lines off the regexes.</summary>
    public static bool MayContainKey(string? text) =>
        text is not null && (text.Contains("lwk_", StringComparison.Ordinal) || text.Contains("api_key=", StringComparison.OrdinalIgnoreCase));

    public static string Redact(string text) => MayContainKey(text)
        ? DatabaseKey().Replace(QueryKey().Replace(text, "${name}" + Marker), "${prefix}" + Marker)
        : text;

    [GeneratedRegex(@"(?<name>[?&]api_key=)[^&#\s]*", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex QueryKey();

    [GeneratedRegex(@"(?<prefix>lwk_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]{35}", RegexOptions.CultureInvariant)]
    private static partial Regex DatabaseKey();
}
