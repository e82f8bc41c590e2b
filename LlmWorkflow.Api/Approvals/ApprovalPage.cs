using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Markdig;

namespace LlmWorkflow.Api.Approvals;

/// <summary>
/// The HTML of the decision page and its answers. Everything from the job is encoded: <c>show</c> as Markdown with raw
/// HTML disabled (Markdig), anything else as pretty-printed JSON in a <c>pre</c>. The page needs no script: a plain
/// form posts the decision to the link's own address.
/// </summary>
internal static class ApprovalPage
{
    private static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().DisableHtml().Build();

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>What the page shows about the pending decision.</summary>
    public sealed record Subject(
        string WorkflowName,
        string StepId,
        string? Prompt,
        JsonNode? Show,
        decimal CostSoFarUsd,
        decimal? EstimatedRestUsd,
        IReadOnlyList<string> UnpricedModels,
        DateTimeOffset ExpiresAt,
        string? Preselected);

    public static string Decide(Subject subject, string styleNonce)
    {
        var body = new StringBuilder();
        body.Append("<h1>").Append(Encode(subject.Prompt ?? "Approve this step?")).Append("</h1>");
        body.Append("<p class=\"meta\">Workflow <b>").Append(Encode(subject.WorkflowName)).Append("</b>, step <b>").Append(Encode(subject.StepId))
            .Append("</b>. This link works until ").Append(Encode(subject.ExpiresAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)))
            .Append(" and decides once.</p>");
        body.Append("<section class=\"show\">").Append(RenderShow(subject.Show)).Append("</section>");
        body.Append("<table><tr><th>Cost so far</th><td>").Append(Usd(subject.CostSoFarUsd)).Append("</td></tr>");
        body.Append("<tr><th>Estimated cost of the rest</th><td>")
            .Append(subject.EstimatedRestUsd is { } rest ? Usd(rest) : "not estimated")
            .Append(subject.UnpricedModels.Count > 0 ? " (unpriced: " + Encode(string.Join(", ", subject.UnpricedModels)) + ")" : "")
            .Append("</td></tr></table>");
        body.Append("<form method=\"post\">");
        body.Append("<label for=\"comment\">Comment (optional)</label><textarea id=\"comment\" name=\"comment\" maxlength=\"")
            .Append(ApprovalEndpoints.MaxCommentChars).Append("\" rows=\"3\"></textarea>");
        body.Append("<div class=\"buttons\">")
            .Append(Button("approve", "Approve", subject.Preselected == "approve"))
            .Append(Button("reject", "Reject", subject.Preselected == "reject"))
            .Append("</div></form>");
        return Document("Decision needed", body.ToString(), styleNonce);
    }

    /// <summary>A page that only says something (the decision recorded, or why the link does not work).</summary>
    public static string Message(string title, string text, string styleNonce) =>
        Document(title, $"<h1>{Encode(title)}</h1><p>{Encode(text)}</p>", styleNonce);

    /// <summary>A fresh nonce for the page's one inline style block (the CSP allows nothing else).</summary>
    public static string NewNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    private static string RenderShow(JsonNode? show) => show switch
    {
        null => "<p class=\"meta\">(nothing to show)</p>",
        JsonValue text when text.TryGetValue<string>(out var markdown) => SafeMarkdown.ToHtml(markdown, Markdown),
        _ => "<pre>" + Encode(show.ToJsonString(Pretty)) + "</pre>",
    };

    private static string Button(string value, string label, bool chosen) =>
        $"<button type=\"submit\" name=\"decision\" value=\"{value}\" class=\"{value}{(chosen ? " chosen" : "")}\"{(chosen ? " autofocus" : "")}>{label}</button>";

    private static string Usd(decimal amount) => "$" + amount.ToString("0.00####", CultureInfo.InvariantCulture);

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Document(string title, string body, string styleNonce) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex"><title>{{Encode(title)}} · LlmWorkflow</title>
        <style nonce="{{styleNonce}}">
        body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#1b1f24;line-height:1.5}
        .meta{color:#57606a}.show{border:1px solid #d0d7de;border-radius:6px;padding:0 1rem;margin:1rem 0;overflow-x:auto}
        pre{white-space:pre-wrap;word-break:break-word}table{border-collapse:collapse;margin:1rem 0}th{text-align:left;padding-right:1rem;font-weight:600}
        textarea{width:100%;box-sizing:border-box;font:inherit}label{display:block;margin-top:1rem}
        .buttons{margin-top:1rem;display:flex;gap:1rem}button{font:inherit;padding:.5rem 1.5rem;border-radius:6px;border:1px solid #d0d7de;cursor:pointer}
        .approve{background:#1f883d;color:#fff}.reject{background:#cf222e;color:#fff}.chosen{outline:3px solid #0969da;outline-offset:2px}
        </style></head><body>{{body}}</body></html>
        """;
}
