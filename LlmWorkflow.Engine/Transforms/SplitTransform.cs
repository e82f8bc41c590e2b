using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>split</c>: splits a string into an array by <c>separator</c> (default a newline) or by a regex <c>pattern</c>;
/// <c>trim</c> (default true) trims parts and <c>remove_empty</c> (default true) drops empty ones:
/// <c>{"pattern": "[,;]\\s*"}</c>.
/// </summary>
internal sealed class SplitTransform : TransformBase
{
    public override string Name => "split";

    public override string Description => "Split text into an array: {\"separator\": \",\"} or {\"pattern\": \"[,;]\\\\s*\"}, trim and remove_empty default true";

    protected override JsonNode? Apply(TransformCall call)
    {
        var pattern = call.String("pattern");
        var separator = call.String("separator");
        if (pattern is not null && separator is not null)
        {
            throw call.ConfigProblem("pattern", "and 'separator' cannot both be given");
        }

        var trim = call.Bool("trim", true);
        var removeEmpty = call.Bool("remove_empty", true);
        var text = call.InputString();
        string[] parts;
        if (pattern is null)
        {
            parts = string.IsNullOrEmpty(separator) ? text.ReplaceLineEndings("\n").Split('\n') : text.Split(separator);
        }
        else
        {
            Regex regex;
            try
            {
                regex = RegexCache.Get(pattern, RegexOptions.None);
            }
            catch (ArgumentException invalid)
            {
                throw call.ConfigProblem("pattern", $"is not a valid regex: {invalid.Message}");
            }

            try
            {
                parts = regex.Split(text);
            }
            catch (RegexMatchTimeoutException)
            {
                throw WorkflowException.User("regex_timeout", $"{Name}: 'pattern' took longer than {RegexCache.MatchTimeout.TotalSeconds:0} s on the input");
            }
        }

        var result = new JsonArray();
        foreach (var part in parts)
        {
            var value = trim ? part.Trim() : part;
            if (!removeEmpty || value.Length > 0)
            {
                result.Add(JsonValue.Create(value));
            }
        }

        return result;
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var problems = ConfigChecks.String(config, Name, "separator")
            .Concat(ConfigChecks.String(config, Name, "pattern"))
            .Concat(ConfigChecks.Bool(config, Name, "trim"))
            .Concat(ConfigChecks.Bool(config, Name, "remove_empty"));
        if (config.ContainsKey("pattern") && config.ContainsKey("separator"))
        {
            problems = problems.Append(new TransformProblem("$.pattern", $"{Name}: give 'pattern' or 'separator', not both"));
        }

        if (config["pattern"] is JsonValue value && value.TryGetValue<string>(out var pattern)
            && !ConfigChecks.IsDeferred(value) && RegexCache.Problem(pattern) is { } problem)
        {
            problems = problems.Append(new TransformProblem("$.pattern", $"{Name}: 'pattern' is not a valid regex: {problem}"));
        }

        return problems;
    }
}
