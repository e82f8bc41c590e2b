using System.Text.Json.Nodes;
using Markdig.Extensions.Tables;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// Converts parsed markdown sections into JSON the way LLM answers are written:
/// <c>**Label:** value</c> lines (and, inside entries, short <c>Label: value</c> lines) become properties,
/// sub-headings and list items become entries named by their heading or leading text, tables become row objects
/// keyed by header, and leftover prose becomes <c>text</c>.
/// </summary>
internal sealed class MarkdownJsonBuilder(string keyStyle)
{
    private const int MaxPlainLabelLength = 40;
    private const int MaxPlainLabelWords = 5;

    /// <summary>
    /// A section as a list of entries: its list items, table rows and sub-sections, in document order.
    /// Entries without properties are plain strings unless the list mixes both, then all are objects.
    /// </summary>
    public JsonArray Items(MarkdownSection section)
    {
        var entries = new List<JsonNode>();
        foreach (var block in section.Blocks)
        {
            switch (block)
            {
                case ListBlock list:
                    entries.AddRange(list.OfType<ListItemBlock>().Select(ListItemEntry));
                    break;
                case Table table:
                    entries.AddRange(TableRows(table));
                    break;
            }
        }

        entries.AddRange(section.Children.Select(SectionEntry));
        if (entries.Any(entry => entry is JsonObject))
        {
            entries = [.. entries.Select(entry => entry is JsonObject ? entry : new JsonObject { ["name"] = entry })];
        }

        return new JsonArray([.. entries]);
    }

    /// <summary>A section as a tree: heading, level, text, properties, items, tables and nested sections.</summary>
    public JsonObject Tree(MarkdownSection section)
    {
        var tree = new JsonObject();
        if (section.Level > 0)
        {
            tree["heading"] = section.Heading;
            tree["level"] = section.Level;
        }

        var properties = new JsonObject();
        var notes = new List<string>();
        var items = new JsonArray();
        var tables = new JsonArray();
        foreach (var block in section.Blocks)
        {
            switch (block)
            {
                case ParagraphBlock paragraph:
                    AddParagraph(paragraph, properties, notes, allowPlainLabels: false);
                    break;
                case ListBlock list:
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        items.Add(ListItemEntry(item));
                    }

                    break;
                case Table table:
                    tables.Add(new JsonArray([.. TableRows(table)]));
                    break;
                case not ThematicBreakBlock:
                    AddNote(notes, MarkdownText.Of(block));
                    break;
            }
        }

        SetIfAny(tree, "text", notes);
        SetIfAny(tree, "properties", properties);
        SetIfAny(tree, "items", items);
        SetIfAny(tree, "tables", tables);
        SetIfAny(tree, "sections", new JsonArray([.. section.Children.Select(Tree)]));
        return tree;
    }

    private JsonObject SectionEntry(MarkdownSection section)
    {
        var entry = new JsonObject { ["name"] = StripNumbering(section.Heading) };
        var notes = new List<string>();
        var items = new JsonArray();
        AddBlocks(section.Blocks, entry, notes, items);
        SetIfAny(entry, "text", notes);
        SetIfAny(entry, "items", items);
        SetIfAny(entry, "sections", new JsonArray([.. section.Children.Select(SectionEntry)]));
        return entry;
    }

    /// <summary>A list item as an entry: its leading text is the name, label lines are properties; a bare name stays a string.</summary>
    private JsonNode ListItemEntry(ListItemBlock item)
    {
        var entry = new JsonObject();
        var notes = new List<string>();
        var items = new JsonArray();
        var blocks = item.ToList();
        if (blocks is [ParagraphBlock first, ..])
        {
            var lines = MarkdownText.Lines(first.Inline);
            if (!TryProperty(lines[0], allowPlainLabels: true, out _, out _))
            {
                entry["name"] = LeadingName(lines[0], notes);
                lines.RemoveAt(0);
            }

            foreach (var line in lines)
            {
                AddLine(line, entry, notes, allowPlainLabels: true);
            }

            blocks.RemoveAt(0);
        }

        AddBlocks(blocks, entry, notes, items);
        if (entry.Count == 1 && entry["name"] is { } name && notes.Count == 0 && items.Count == 0)
        {
            return name.DeepClone();
        }

        SetIfAny(entry, "text", notes);
        SetIfAny(entry, "items", items);
        return entry;
    }

    private void AddBlocks(IEnumerable<Block> blocks, JsonObject entry, List<string> notes, JsonArray items)
    {
        foreach (var block in blocks)
        {
            switch (block)
            {
                case ParagraphBlock paragraph:
                    AddParagraph(paragraph, entry, notes, allowPlainLabels: true);
                    break;
                case ListBlock list:
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        // "- **Phone:** 911" items describe the entry itself rather than listing things.
                        if (item is [ParagraphBlock only] && MarkdownText.Lines(only.Inline).All(line => TryProperty(line, allowPlainLabels: true, out _, out _)))
                        {
                            AddParagraph(only, entry, notes, allowPlainLabels: true);
                        }
                        else
                        {
                            items.Add(ListItemEntry(item));
                        }
                    }

                    break;
                case Table table:
                    foreach (var row in TableRows(table))
                    {
                        items.Add(row);
                    }

                    break;
                case not ThematicBreakBlock:
                    AddNote(notes, MarkdownText.Of(block));
                    break;
            }
        }
    }

    private void AddParagraph(ParagraphBlock paragraph, JsonObject properties, List<string> notes, bool allowPlainLabels)
    {
        foreach (var line in MarkdownText.Lines(paragraph.Inline))
        {
            AddLine(line, properties, notes, allowPlainLabels);
        }
    }

    private void AddLine(List<Inline> line, JsonObject properties, List<string> notes, bool allowPlainLabels)
    {
        if (TryProperty(line, allowPlainLabels, out var label, out var value))
        {
            SetProperty(properties, KeyStyle.Apply(label, keyStyle), value);
        }
        else
        {
            AddNote(notes, string.Concat(line.Select(MarkdownText.Of)).Trim());
        }
    }

    /// <summary>A repeated label collects its values into an array rather than losing one.</summary>
    private static void SetProperty(JsonObject properties, string key, string value)
    {
        switch (properties[key])
        {
            case null:
                properties[key] = value;
                break;
            case JsonArray values:
                values.Add(value);
                break;
            case var existing:
                properties[key] = new JsonArray(existing.DeepClone(), JsonValue.Create(value));
                break;
        }
    }

    /// <summary><c>**Label:** value</c> or <c>**Label**: value</c>; with <paramref name="allowPlainLabels"/> also a short <c>Label: value</c>.</summary>
    private static bool TryProperty(List<Inline> line, bool allowPlainLabels, out string label, out string value)
    {
        label = value = string.Empty;
        var start = line.FindIndex(inline => inline is not LiteralInline literal || !literal.Content.IsEmptyOrWhitespace());
        if (start < 0)
        {
            return false;
        }

        if (line[start] is EmphasisInline { DelimiterCount: >= 2 } strong)
        {
            var strongText = MarkdownText.Of(strong).Trim();
            var rest = string.Concat(line.Skip(start + 1).Select(MarkdownText.Of)).Trim();
            if (strongText.EndsWith(':'))
            {
                (label, value) = (strongText[..^1].Trim(), rest);
            }
            else if (rest.StartsWith(':'))
            {
                (label, value) = (strongText, rest[1..].Trim());
            }

            return label.Length > 0;
        }

        if (!allowPlainLabels)
        {
            return false;
        }

        var text = string.Concat(line.Select(MarkdownText.Of)).Trim();
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon > MaxPlainLabelLength || colon + 1 >= text.Length || text[colon + 1] != ' '
            || !char.IsLetter(text[0]) || text[..colon].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length > MaxPlainLabelWords)
        {
            return false;
        }

        (label, value) = (text[..colon].Trim(), text[(colon + 1)..].Trim());
        return true;
    }

    /// <summary>The entry name from its first line: a leading bold name, or the whole line; the rest after a bold name is a note.</summary>
    private static string LeadingName(List<Inline> line, List<string> notes)
    {
        var text = string.Concat(line.Select(MarkdownText.Of)).Trim();
        if (line.FirstOrDefault() is EmphasisInline { DelimiterCount: >= 2 } strong)
        {
            var name = MarkdownText.Of(strong).Trim();
            AddNote(notes, text[Math.Min(text.Length, name.Length)..].Trim().TrimStart('-', '–', '—', ':').Trim());
            return StripNumbering(name);
        }

        return StripNumbering(text);
    }

    private IEnumerable<JsonObject> TableRows(Table table)
    {
        var rows = table.OfType<TableRow>().ToList();
        var header = rows.FirstOrDefault(row => row.IsHeader);
        var keys = header?.OfType<TableCell>().Select(cell => KeyStyle.Apply(MarkdownText.Of(cell), keyStyle)).ToList() ?? [];
        foreach (var row in rows.Where(row => !row.IsHeader))
        {
            var values = new JsonObject();
            var cells = row.OfType<TableCell>().ToList();
            for (var i = 0; i < cells.Count; i++)
            {
                var key = i < keys.Count && keys[i].Length > 0 ? keys[i] : $"column_{i + 1}";
                values[key] = MarkdownText.Of(cells[i]);
            }

            yield return values;
        }
    }

    /// <summary>"1. Fire Station" → "Fire Station": list numbering written into headings is not part of the name.</summary>
    private static string StripNumbering(string text)
    {
        var i = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        return i > 0 && i + 1 < text.Length && text[i] is '.' or ')' && text[i + 1] == ' ' ? text[(i + 2)..].Trim() : text;
    }

    private static void AddNote(List<string> notes, string text)
    {
        if (text.Length > 0)
        {
            notes.Add(text);
        }
    }

    private static void SetIfAny(JsonObject target, string key, List<string> notes)
    {
        if (notes.Count > 0)
        {
            target[key] = string.Join('\n', notes);
        }
    }

    private static void SetIfAny(JsonObject target, string key, JsonObject value)
    {
        if (value.Count > 0)
        {
            target[key] = value;
        }
    }

    private static void SetIfAny(JsonObject target, string key, JsonArray value)
    {
        if (value.Count > 0)
        {
            target[key] = value;
        }
    }
}
