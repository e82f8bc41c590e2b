using System.Text;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>join</c>: joins array items into one string with <c>separator</c> (default <c>", "</c>), optionally rendering
/// each item with <c>template</c> first: <c>{"separator": "\n", "template": "- {{name}}: {{phone}}"}</c>.
/// Null items are skipped; other items render as in <c>${...}</c> text (objects as JSON).
/// </summary>
internal sealed class JoinTransform : TransformBase
{
    public override string Name => "join";

    public override string Description => "Join array items into text: {\"separator\": \"\\n\", \"template\": \"- {{name}}\"}";

    public override IReadOnlyCollection<string> ItemScopedOptions { get; } = ["template"];

    protected override JsonNode? Apply(TransformCall call)
    {
        var separator = call.String("separator") ?? ", ";
        var template = TemplateOption.Read(call, "template");
        var items = call.InputArray();
        var builder = new StringBuilder();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
            {
                continue;
            }

            if (builder.Length > 0)
            {
                builder.Append(separator);
            }

            builder.Append(template is null ? ValueText.Render(items[i]) : template.Render(items[i], call.Scope.WithItem(items[i], i)));
        }

        return JsonValue.Create(builder.ToString());
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.String(config, Name, "separator").Concat(TemplateOption.Validate(config, Name, "template"));
}
