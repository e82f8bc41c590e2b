using Markdig;
using Markdig.Syntax;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// A heading and what belongs to it: its own blocks up to the first sub-heading, its sub-sections, and the source
/// range of its whole body (sub-sections included). The document itself is the level-0 root section.
/// </summary>
internal sealed class MarkdownSection
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UsePipeTables().Build();

    private MarkdownSection(string heading, int level, int bodyStart)
    {
        Heading = heading;
        Level = level;
        BodyStart = bodyStart;
    }

    public string Heading { get; }

    public int Level { get; }

    public List<Block> Blocks { get; } = [];

    public List<MarkdownSection> Children { get; } = [];

    public int BodyStart { get; }

    public int BodyEnd { get; private set; }

    /// <summary>Parses markdown into the section tree under a level-0 root.</summary>
    public static MarkdownSection ParseDocument(string markdown)
    {
        var document = Markdown.Parse(markdown, Pipeline);
        var root = new MarkdownSection(string.Empty, 0, 0);
        var open = new Stack<MarkdownSection>();
        open.Push(root);
        foreach (var block in document)
        {
            if (block is HeadingBlock heading)
            {
                while (open.Peek().Level >= heading.Level)
                {
                    open.Pop().BodyEnd = heading.Span.Start;
                }

                var section = new MarkdownSection(MarkdownText.Of(heading.Inline), heading.Level, Math.Min(heading.Span.End + 1, markdown.Length));
                open.Peek().Children.Add(section);
                open.Push(section);
            }
            else
            {
                open.Peek().Blocks.Add(block);
            }
        }

        while (open.Count > 0)
        {
            open.Pop().BodyEnd = markdown.Length;
        }

        return root;
    }

    /// <summary>This section and every section below it, in document order.</summary>
    public IEnumerable<MarkdownSection> Descendants()
    {
        foreach (var child in Children)
        {
            yield return child;
            foreach (var descendant in child.Descendants())
            {
                yield return descendant;
            }
        }
    }

    /// <summary>The body as markdown source (sub-sections included), trimmed.</summary>
    public string BodyMarkdown(string markdown) => markdown[BodyStart..Math.Max(BodyStart, BodyEnd)].Trim();
}
