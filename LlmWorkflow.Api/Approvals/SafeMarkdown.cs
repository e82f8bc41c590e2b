using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace LlmWorkflow.Api.Approvals;

/// <summary>
/// Markdown from a job (an LLM's draft) rendered for a person to read: raw HTML is disabled by the pipeline, and a link
/// or image whose address runs script or embeds content (<c>javascript:</c>, <c>vbscript:</c>, <c>data:</c>, any scheme
/// but http, https and mailto) is stripped, its text kept. The page's CSP would stop such a link running, but a reviewer
/// must not be handed one to click.
/// </summary>
internal static class SafeMarkdown
{
    private static readonly string[] SafeSchemes = ["http", "https", "mailto"];

    public static string ToHtml(string markdown, MarkdownPipeline pipeline)
    {
        var document = Markdig.Markdown.Parse(markdown, pipeline);
        foreach (var link in document.Descendants<LinkInline>().Where(l => !IsSafe(l.Url)).ToList())
        {
            Unwrap(link, keepText: !link.IsImage);
        }

        foreach (var autolink in document.Descendants<AutolinkInline>().Where(l => !IsSafe(l.Url)).ToList())
        {
            autolink.ReplaceBy(new LiteralInline(autolink.Url));
        }

        return document.ToHtml(pipeline);
    }

    /// <summary>Whether <paramref name="url"/> is relative or of a safe scheme, read as a browser would (it ignores ASCII whitespace and controls in it).</summary>
    public static bool IsSafe(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return true;
        }

        var compact = new string(url.Where(c => c > ' ' && c != '\u007f').ToArray());
        var colon = compact.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return true;
        }

        var scheme = compact[..colon];
        // A colon after '/', '?' or '#' is part of a relative address, not a scheme.
        return scheme.IndexOfAny(['/', '?', '#']) >= 0 || SafeSchemes.Contains(scheme, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Puts the link's text where the link was (or nothing, for an image), dropping the address.</summary>
    private static void Unwrap(LinkInline link, bool keepText)
    {
        if (keepText)
        {
            foreach (var child in link.ToList())
            {
                child.Remove();
                link.InsertBefore(child);
            }
        }

        link.Remove();
    }
}
