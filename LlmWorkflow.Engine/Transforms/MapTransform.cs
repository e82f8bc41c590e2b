using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>map</c>: turns every array item into a new value, either
/// <c>{"template": "{{name}} ({{rating}} stars) #${index}"}</c> — text, with <c>{{field}}</c> looked up in the item — or
/// <c>{"fields": {"title": "${item.name}", "score": "${item.rating}", "source": "${context.tier}"}}</c> — an object
/// whose values are resolved per item, keeping JSON types for whole-string references.
/// </summary>
internal sealed class MapTransform : TransformBase
{
    public override string Name => "map";

    public override string Description =>
        "Reshape each array item: {\"template\": \"{{name}}: {{phone}}\"} or {\"fields\": {\"title\": \"${item.name}\"}}";

    public override IReadOnlyCollection<string> ItemScopedOptions { get; } = ["fields", "template"];

    protected override JsonNode? Apply(TransformCall call)
    {
        var template = TemplateOption.Read(call, "template");
        var fields = call.Raw("fields");
        if ((template is null) == (fields is null))
        {
            throw call.ConfigProblem("template", "or 'fields' is required (exactly one of them)");
        }

        if (fields is not null and not JsonObject)
        {
            throw call.ConfigProblem("fields", "must be an object of name -> value expression");
        }

        var items = call.InputArray();
        var mapped = new JsonArray();
        for (var i = 0; i < items.Count; i++)
        {
            var itemScope = call.Scope.WithItem(items[i], i);
            mapped.Add(template is not null
                ? JsonValue.Create(template.Render(items[i], itemScope))
                : ValueResolver.Resolve(fields, itemScope));
        }

        return mapped;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var hasTemplate = config.ContainsKey("template");
        var hasFields = config.ContainsKey("fields");
        if (hasTemplate == hasFields)
        {
            return [new TransformProblem("$", $"{Name}: give exactly one of 'template' or 'fields'", "Example: \"template\": \"{{name}}: {{phone}}\"")];
        }

        return hasTemplate
            ? TemplateOption.Validate(config, Name, "template")
            : config["fields"] is JsonObject
                ? []
                : [new TransformProblem("$.fields", $"{Name}: 'fields' must be an object of name -> value expression")];
    }
}
