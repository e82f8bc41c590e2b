using System.Text.RegularExpressions;

namespace LlmWorkflow.ServiceDefaults.Logging;

/// <summary>Replaces e-mail addresses with a marker (the documents ask for PII redaction in logs).</summary>
public static partial class EmailRedactor
{
    public const string Marker = "[REDACTED_EMAIL]";

    /// <summary>Whether <paramref name="text"/> may hold an address; the cheap test that keeps most lines off the regex.</summary>
    public static bool MayContainEmail(string? text) => text is not null && text.Contains('@', StringComparison.Ordinal);

    public static string Redact(string text) => MayContainEmail(text) ? Email().Replace(text, Marker) : text;

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", RegexOptions.CultureInvariant)]
    private static partial Regex Email();
}
