using System.Text;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>Plain text of markdown inlines and blocks (emphasis marks dropped, links as their text).</summary>
internal static class MarkdownText
{
    public static string Of(ContainerInline? inlines)
    {
        var builder = new StringBuilder();
        Append(inlines, builder);
        return builder.ToString().Trim();
    }

    public static string Of(Inline inline)
    {
        var builder = new StringBuilder();
        Append(inline, builder);
        return builder.ToString();
    }

    /// <summary>The plain text of a block and everything in it, one line per paragraph or list item.</summary>
    public static string Of(Block block) => block switch
    {
        LeafBlock { Inline: { } inline } => Of(inline),
        LeafBlock leaf => leaf.Lines.ToString().Trim(),
        ContainerBlock container => string.Join('\n', container.Select(Of).Where(text => text.Length > 0)),
        _ => string.Empty,
    };

    /// <summary>Splits a paragraph's inlines into lines at line breaks.</summary>
    public static List<List<Inline>> Lines(ContainerInline? inlines)
    {
        var lines = new List<List<Inline>> { new() };
        for (var inline = inlines?.FirstChild; inline is not null; inline = inline.NextSibling)
        {
            if (inline is LineBreakInline)
            {
                lines.Add([]);
            }
            else
            {
                lines[^1].Add(inline);
            }
        }

        return lines;
    }

    private static void Append(Inline? inline, StringBuilder builder)
    {
        switch (inline)
        {
            case null:
                return;
            case LiteralInline literal:
                builder.Append(literal.Content.AsSpan());
                break;
            case CodeInline code:
                builder.Append(code.Content);
                break;
            case LineBreakInline:
                builder.Append('\n');
                break;
            case HtmlEntityInline entity:
                builder.Append(entity.Transcoded.AsSpan());
                break;
            case AutolinkInline autolink:
                builder.Append(autolink.Url);
                break;
            case LinkInline { FirstChild: null } link:
                builder.Append(link.Url);
                break;
            case ContainerInline container:
                for (var child = container.FirstChild; child is not null; child = child.NextSibling)
                {
                    Append(child, builder);
                }

                break;
        }
    }
}
