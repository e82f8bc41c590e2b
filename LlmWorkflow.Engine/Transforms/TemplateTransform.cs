using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>template</c>: renders <c>template</c> text: <c>{{name}}</c> looks up <c>variables</c> (resolved; default the
/// resolved <c>input</c>) and <c>${...}</c> reads the whole scope:
/// <c>{"template": "Plan for {{city}} ({{family_size}} people), tier ${context.tier}", "variables": "${input}"}</c>.
/// </summary>
internal sealed class TemplateTransform : TransformBase
{
    public override string Name => "template";

    public override string Description =>
        "Render text: {\"template\": \"Hello {{name}} from ${input.city}\", \"variables\": {\"name\": \"${steps.user.output.name}\"}}";

    protected override bool RequiresInput => false;

    protected override JsonNode? Apply(TransformCall call)
    {
        var template = TemplateOption.Read(call, "template") ?? throw call.ConfigProblem("template", "is required");
        var variables = call.Has("variables") ? call.Resolved("variables") : call.Has("input") ? call.Input() : null;
        return JsonValue.Create(template.Render(variables, call.Scope));
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config) =>
        ConfigChecks.Required(config, Name, "template", "Example: \"template\": \"Hello {{name}}\"")
            .Concat(TemplateOption.Validate(config, Name, "template"));
}
