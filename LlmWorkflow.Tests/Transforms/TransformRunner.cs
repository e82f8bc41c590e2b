using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Tests.Transforms;

/// <summary>Runs a transform step config the way the executor does: look up <c>operation</c>, validate, apply.</summary>
internal static class TransformRunner
{
    public static readonly TransformRegistry Registry = TransformRegistry.CreateDefault();

    private static readonly JsonSerializerOptions ReadableJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Applies <paramref name="config"/> with <paramref name="input"/> as the job input (<c>${input}</c>).</summary>
    public static JsonNode? Run(string config, JsonNode? input = null, ExpressionScope? scope = null)
    {
        var configObject = JsonNode.Parse(config)!.AsObject();
        var transform = Registry.Get(configObject["operation"]!.GetValue<string>());
        Assert.Empty(transform.Validate(configObject));
        return transform.Apply(configObject, scope ?? new ExpressionScope(input, new Dictionary<string, JsonNode?>(), null));
    }

    public static string RunJson(string config, string inputJson) => Json(Run(config, JsonNode.Parse(inputJson)));

    public static string RunText(string config, string text) => Json(Run(config, JsonValue.Create(text)));

    /// <summary>Compact JSON that keeps non-ASCII text readable in assertions.</summary>
    public static string Json(JsonNode? node) => node?.ToJsonString(ReadableJson) ?? "null";

    /// <summary>The failure of a config that validates but cannot run on the given input.</summary>
    public static WorkflowError Fail(string config, JsonNode? input) =>
        Assert.Throws<WorkflowException>(() => Run(config, input)).Error;

    public static IReadOnlyList<TransformProblem> Problems(string config)
    {
        var configObject = JsonNode.Parse(config)!.AsObject();
        return [.. Registry.Get(configObject["operation"]!.GetValue<string>()).Validate(configObject)];
    }
}
