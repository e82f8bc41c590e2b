using System.Text.Json.Nodes;
using LlmWorkflow.Api.Approvals;

namespace LlmWorkflow.Tests.Security;

/// <summary>
/// The decision page renders the draft's Markdown without handing the reviewer a link that runs script or embeds
/// content: <c>javascript:</c>, <c>vbscript:</c> and <c>data:</c> links, images and autolinks are stripped (their text
/// kept), in any case and with the whitespace or entities a browser would ignore; http, https, mailto and relative
/// links stay.
/// </summary>
[UnitTest]
public sealed class ApprovalPageMarkdownTests
{
    [Theory]
    [InlineData("[click me](javascript:alert(1))")]
    [InlineData("[click me](JavaScript:alert(1))")]
    [InlineData("[click me](javascript&#58;alert(1))")]
    [InlineData("[click me](<java\tscript:alert(1)>)")]
    [InlineData("[click me](vbscript:msgbox(1))")]
    [InlineData("[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")]
    [InlineData("[click me][ref]\n\n[ref]: javascript:alert(1)")]
    [InlineData("click me ![pic](javascript:alert(1)) <javascript:alert(1)>")]
    public void AScriptOrDataLinkIsStrippedAndItsTextKept(string markdown)
    {
        var html = Render(markdown);

        Assert.Contains("click me", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"javascript", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=\"java", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("vbscript:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("=\"data:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=\"javascript", html, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("[docs](https://example.com/a?b=c:d)", "href=\"https://example.com/a?b=c:d\"")]
    [InlineData("[mail](mailto:team@example.com)", "href=\"mailto:team@example.com\"")]
    [InlineData("[here](/guide/page#part:two)", "href=\"/guide/page#part:two\"")]
    [InlineData("<https://example.com>", "href=\"https://example.com\"")]
    public void AnOrdinaryLinkStays(string markdown, string expected)
    {
        Assert.Contains(expected, Render(markdown), StringComparison.Ordinal);
    }

    private static string Render(string markdown)
    {
        var subject = new ApprovalPage.Subject("flow", "review", "Publish?", JsonValue.Create(markdown), 0m, null, [], DateTimeOffset.UtcNow.AddHours(1), null);
        var page = ApprovalPage.Decide(subject, "nonce");
        var start = page.IndexOf("<section class=\"show\">", StringComparison.Ordinal);
        return page[start..page.IndexOf("</section>", start, StringComparison.Ordinal)];
    }
}
