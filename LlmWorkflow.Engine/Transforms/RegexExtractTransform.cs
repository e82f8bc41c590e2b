using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Transforms;

/// <summary>
/// <c>regex_extract</c>: matches <c>pattern</c> against a string. With named groups a match becomes an object
/// (<c>(?&lt;phone&gt;\d{3}-\d{4})</c> → <c>{"phone": "555-1234"}</c>, an unmatched group is null); without, the
/// first group's text, or the whole match. The first match (or null), or with <c>all: true</c> an array of all
/// matches. <c>ignore_case</c> and <c>multiline</c> set the regex options; matching times out after one second.
/// </summary>
internal sealed class RegexExtractTransform : TransformBase
{
    public override string Name => "regex_extract";

    public override string Description =>
        "Extract with a regex: {\"pattern\": \"(?<label>\\\\w+): (?<value>.+)\", \"all\": true} → [{\"label\": ..., \"value\": ...}]";

    protected override JsonNode? Apply(TransformCall call)
    {
        var pattern = call.RequiredString("pattern");
        var options = (call.Bool("ignore_case", false) ? RegexOptions.IgnoreCase : RegexOptions.None)
            | (call.Bool("multiline", false) ? RegexOptions.Multiline : RegexOptions.None);
        var all = call.Bool("all", false);
        Regex regex;
        try
        {
            regex = RegexCache.Get(pattern, options);
        }
        catch (ArgumentException invalid)
        {
            throw call.ConfigProblem("pattern", $"is not a valid regex: {invalid.Message}");
        }

        var text = call.InputString();
        try
        {
            if (!all)
            {
                var match = regex.Match(text);
                return match.Success ? ToJson(regex, match) : null;
            }

            var matches = new JsonArray();
            foreach (Match match in regex.Matches(text))
            {
                matches.Add(ToJson(regex, match));
            }

            return matches;
        }
        catch (RegexMatchTimeoutException)
        {
            throw WorkflowException.User("regex_timeout", $"{Name}: 'pattern' took longer than {RegexCache.MatchTimeout.TotalSeconds:0} s on the input");
        }
    }

    protected override IEnumerable<TransformProblem> ValidateOptions(JsonObject config)
    {
        var problems = ConfigChecks.Required(config, Name, "pattern", "Example: \"pattern\": \"(?<phone>\\\\(?\\\\d{3}\\\\)?[ -]?\\\\d{3}-\\\\d{4})\"")
            .Concat(ConfigChecks.String(config, Name, "pattern"))
            .Concat(ConfigChecks.Bool(config, Name, "all"))
            .Concat(ConfigChecks.Bool(config, Name, "ignore_case"))
            .Concat(ConfigChecks.Bool(config, Name, "multiline"));
        if (config["pattern"] is JsonValue value && value.TryGetValue<string>(out var pattern)
            && !ConfigChecks.IsDeferred(value) && RegexCache.Problem(pattern) is { } problem)
        {
            problems = problems.Append(new TransformProblem("$.pattern", $"{Name}: 'pattern' is not a valid regex: {problem}"));
        }

        return problems;
    }

    private static JsonNode? ToJson(Regex regex, Match match)
    {
        var names = regex.GetGroupNames().Where(name => !int.TryParse(name, out _)).ToArray();
        if (names.Length == 0)
        {
            return JsonValue.Create(match.Groups.Count > 1 ? match.Groups[1].Value : match.Value);
        }

        var result = new JsonObject();
        foreach (var name in names)
        {
            var group = match.Groups[name];
            result[name] = group.Success ? JsonValue.Create(group.Value) : null;
        }

        return result;
    }
}
