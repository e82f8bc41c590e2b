using System.Text.RegularExpressions;

namespace LlmWorkflow.ServiceDefaults.Logging;

/// <summary>
/// Removes the token of a decision link (<c>/approvals/{token}</c>): the token is the capability to decide an approval
/// without an API key, and ASP.NET Core logs request paths at Information and traces record them.
/// </summary>
public static partial class DecisionLinkRedactor
{
    public const string PathPrefix = "/approvals/";

    public static bool MayContainLink(string? text) => text is not null && text.Contains(PathPrefix, StringComparison.OrdinalIgnoreCase);

    public static string Redact(string text) => MayContainLink(text) ? Token().Replace(text, "${prefix}" + ApiKeyRedactor.Marker) : text;

    [GeneratedRegex(@"(?<prefix>/approvals/)[^/?#\s""'<>]+", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Token();
}
