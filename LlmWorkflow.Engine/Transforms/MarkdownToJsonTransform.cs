using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>markdown_to_json</c>: structures a markdown LLM answer. Three shapes:
/// <list type="bullet">
/// <item><c>sections</c>: output name → heading to find (matched loosely: case, emoji, numbering and punctuation
/// ignored; an exact match wins over a heading that contains the words). Each value is a heading string or
/// <c>{"heading": "...", "format": "items|text|tree", "required": true}</c>. Emergency contacts:
/// <c>{"sections": {"contacts": "Emergency Contacts", "meetingLocations": "Meeting Locations"}}</c> gives
/// <c>{"contacts": [{"name": ..., "phone": ..., ...}], "meetingLocations": [...]}</c>. A missing section is null,
/// or a USER_ERROR <c>parse_error</c> when <c>required</c>.</item>
/// <item><c>split_level</c>: every heading of that level becomes a key (in <c>key_style</c>), e.g. a mission plan
/// split at 2 gives <c>{"executive_summary": "...", "risk_assessment": "..."}</c>.</item>
/// <item>Neither: the whole document as a tree of sections.</item>
/// </list>
/// <c>format</c> sets the default conversion: <c>items</c> (entries from sub-headings, list items and table rows,
/// with <c>**Label:** value</c> lines as properties; the default with <c>sections</c>), <c>text</c> (the section's
/// markdown; the default with <c>split_level</c>) or <c>tree</c>. <c>key_style</c> (<c>snake</c> default,
/// <c>camel</c>, <c>original</c>) shapes keys made from labels, table headers and headings.
/// </summary>
internal sealed class MarkdownToJsonTransform : TransformBase
{
    private static readonly string[] Formats = ["items", "text", "tree"];

    public override string Name => "markdown_to_json";

    public override string Description =>
        "Structure markdown: {\"sections\": {\"contacts\": \"Emergency Contacts\"}} → {\"contacts\": [{\"name\": ..., \"phone\": ...}]}, or {\"split_level\": 2} → {\"executive_summary\": \"...\"}";

    protected override JsonNode? Apply(TransformCall call)
    {
        var keyStyle = call.OneOf("key_style", "snake", KeyStyle.Names);
        var splitLevel = call.Int("split_level", 1);
        var sections = call.Raw("sections");
        if (sections is not null && splitLevel is not null)
        {
            throw call.ConfigProblem("sections", "and 'split_level' cannot both be given");
        }

        var markdown = call.InputString();
        var root = MarkdownSection.ParseDocument(markdown);
        var builder = new MarkdownJsonBuilder(keyStyle);
        if (sections is JsonObject wanted)
        {
            var defaultFormat = call.OneOf("format", "items", Formats);
            var result = new JsonObject();
            foreach (var (outputName, spec) in wanted)
            {
                var (heading, format, required) = ReadSpec(call, outputName, spec, defaultFormat);
                var section = Find(root, heading);
                result[outputName] = section is not null
                    ? ConvertSection(section, format, builder, markdown)
                    : required ? throw MissingSection(heading, root) : null;
            }

            return result;
        }

        if (sections is not null)
        {
            throw call.ConfigProblem("sections", "must be an object of output name -> heading");
        }

        if (splitLevel is { } level)
        {
            var format = call.OneOf("format", "text", Formats);
            var result = new JsonObject();
            foreach (var section in root.Descendants().Where(s => s.Level == level))
            {
                var key = KeyStyle.Apply(section.Heading, keyStyle);
                for (var n = 2; result.ContainsKey(key); n++)
                {
                    key = $"{KeyStyle.Apply(section.Heading, keyStyle)}_{n}";
                }

                result[key] = ConvertSection(section, format, builder, markdown);
            }

            return result;
        }

        return builder.Tree(root);
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var problems = ConfigChecks.OneOf(config, Name, "format", Formats)
            .Concat(ConfigChecks.OneOf(config, Name, "key_style", KeyStyle.Names))
            .Concat(ConfigChecks.Int(config, Name, "split_level", 1));
        if (config.ContainsKey("sections") && config.ContainsKey("split_level"))
        {
            problems = problems.Append(new TransformProblem("$.split_level", $"{Name}: give 'sections' or 'split_level', not both"));
        }

        switch (config["sections"])
        {
            case null:
                break;
            case JsonObject sections:
                foreach (var (name, spec) in sections)
                {
                    var valid = JsonValueSemantics.TryGetString(spec, out _)
                        || (spec is JsonObject obj && JsonValueSemantics.TryGetString(obj["heading"], out _)
                            && (obj["format"] is null || (JsonValueSemantics.TryGetString(obj["format"], out var format) && Formats.Contains(format))));
                    if (!valid)
                    {
                        problems = problems.Append(new TransformProblem($"$.sections.{name}",
                            $"{Name}: 'sections.{name}' must be a heading or {{\"heading\": \"...\", \"format\": \"items|text|tree\", \"required\": true}}"));
                    }
                }

                break;
            default:
                problems = problems.Append(new TransformProblem("$.sections", $"{Name}: 'sections' must be an object of output name -> heading",
                    "Example: \"sections\": {\"contacts\": \"Emergency Contacts\"}"));
                break;
        }

        return problems;
    }

    private static (string Heading, string Format, bool Required) ReadSpec(TransformCall call, string outputName, JsonNode? spec, string defaultFormat)
    {
        if (JsonValueSemantics.TryGetString(spec, out var heading))
        {
            return (heading, defaultFormat, false);
        }

        if (spec is JsonObject obj && JsonValueSemantics.TryGetString(obj["heading"], out heading))
        {
            var format = JsonValueSemantics.TryGetString(obj["format"], out var given) ? given : defaultFormat;
            if (!Formats.Contains(format))
            {
                throw call.ConfigProblem($"sections.{outputName}.format", $"must be one of {string.Join(", ", Formats)}, got '{format}'");
            }

            return (heading, format, obj["required"] is JsonValue required && required.TryGetValue<bool>(out var flag) && flag);
        }

        throw call.ConfigProblem($"sections.{outputName}", "must be a heading or an object with 'heading'");
    }

    /// <summary>The first section whose heading equals the wanted words, else the first that contains them.</summary>
    private static MarkdownSection? Find(MarkdownSection root, string heading)
    {
        var wanted = KeyStyle.Normalize(heading);
        var sections = root.Descendants().ToList();
        return sections.FirstOrDefault(s => KeyStyle.Normalize(s.Heading) == wanted)
            ?? sections.FirstOrDefault(s => $" {KeyStyle.Normalize(s.Heading)} ".Contains($" {wanted} ", StringComparison.Ordinal));
    }

    private static JsonNode ConvertSection(MarkdownSection section, string format, MarkdownJsonBuilder builder, string markdown) => format switch
    {
        "text" => JsonValue.Create(section.BodyMarkdown(markdown)),
        "tree" => builder.Tree(section),
        _ => builder.Items(section),
    };

    private WorkflowException MissingSection(string heading, MarkdownSection root)
    {
        var present = string.Join(", ", root.Descendants().Select(s => $"'{s.Heading}'"));
        return WorkflowException.User("parse_error",
            $"{Name}: section '{heading}' not found in the markdown; headings present: {(present.Length == 0 ? "none" : present)}",
            "Check that the prompt asks for this heading, or make the section optional");
    }
}
