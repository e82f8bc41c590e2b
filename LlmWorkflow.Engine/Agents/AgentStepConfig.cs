using System.Globalization;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Agents;

/// <summary>
/// An <c>agent</c> step's config: <c>{"model", "instructions" | "instructions_file", "input", "variables", "tools":[…],
/// "max_turns", "max_tokens", "max_cost_usd", "max_output_tokens", "temperature", "stream"}</c>. Parsed from the definition's
/// JSON by hand so every problem names its field in JSON terms (<c>config.tools[1].url</c>).
/// </summary>
public sealed record AgentStepConfig
{
    public const int DefaultMaxTurns = 10;

    /// <summary>Output tokens one turn may take when the step sets no <c>max_output_tokens</c>.</summary>
    public const int DefaultMaxOutputTokens = 1024;

    public required IReadOnlyList<string> Models { get; init; }

    public string? Instructions { get; init; }

    public string? InstructionsFile { get; init; }

    /// <summary>The user message that starts the loop (text with <c>${…}</c> expressions).</summary>
    public required string Input { get; init; }

    /// <summary>The variables the instructions' <c>{{…}}</c> templates see; the job's input when absent.</summary>
    public JsonNode? Variables { get; init; }

    public required IReadOnlyList<AgentToolDefinition> Tools { get; init; }

    public int MaxTurns { get; init; } = DefaultMaxTurns;

    /// <summary>Input plus output tokens over every turn of the step; null = no token cap.</summary>
    public int? MaxTokens { get; init; }

    public decimal? MaxCostUsd { get; init; }

    public int MaxOutputTokens { get; init; } = DefaultMaxOutputTokens;

    public float? Temperature { get; init; }

    /// <summary>Stream each model turn and send its text to the live events as <c>agent_delta</c>s (as the llm step's <c>stream</c>; off by default).</summary>
    public bool Stream { get; init; }

    /// <summary>The config, or the list of what is wrong with it (each naming its field).</summary>
    public static AgentStepConfig Parse(JsonObject config, out List<string> problems)
    {
        problems = [];
        var models = ParseModels(config["model"], problems);
        var instructions = Text(config, "instructions", problems);
        var instructionsFile = Text(config, "instructions_file", problems);
        if (instructions is not null && instructionsFile is not null)
        {
            problems.Add("config.instructions and config.instructions_file are exclusive: set one.");
        }

        var input = Text(config, "input", problems);
        if (input is null)
        {
            problems.Add("config.input is required: the message (text, ${…} allowed) that starts the agent's loop.");
        }

        var tools = new List<AgentToolDefinition>();
        if (config["tools"] is { } toolsNode)
        {
            if (toolsNode is not JsonArray array)
            {
                problems.Add("config.tools must be an array of tool objects.");
            }
            else
            {
                for (var i = 0; i < array.Count; i++)
                {
                    if (AgentToolDefinition.Parse(array[i], $"config.tools[{i}]", problems) is { } tool)
                    {
                        tools.Add(tool);
                    }
                }
            }
        }

        foreach (var duplicate in tools.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"config.tools: the tool name \"{duplicate.Key}\" is used {duplicate.Count()} times; names must be unique.");
        }

        return new AgentStepConfig
        {
            Models = models,
            Instructions = instructions,
            InstructionsFile = instructionsFile,
            Input = input ?? string.Empty,
            Variables = config["variables"],
            Tools = tools,
            MaxTurns = Integer(config, "max_turns", 1, 1000, problems) ?? DefaultMaxTurns,
            MaxTokens = Integer(config, "max_tokens", 1, int.MaxValue, problems),
            MaxCostUsd = Money(config, "max_cost_usd", problems),
            MaxOutputTokens = Integer(config, "max_output_tokens", 1, 1_000_000, problems) ?? DefaultMaxOutputTokens,
            Temperature = Number(config, "temperature", problems) is { } t ? (float)t : null,
            Stream = Boolean(config, "stream", problems) ?? false,
        };
    }

    private static List<string> ParseModels(JsonNode? node, List<string> problems)
    {
        List<string> models = node switch
        {
            JsonValue value when value.TryGetValue<string>(out var one) => [one],
            JsonArray array => [.. array.Select(m => m is JsonValue v && v.TryGetValue<string>(out var s) ? s : string.Empty)],
            _ => [],
        };
        if (models.Count == 0 || models.Any(m => !m.Contains('/', StringComparison.Ordinal)))
        {
            problems.Add("config.model is required: a provider/model id (e.g. \"mock/agent\") or a fallback array of them.");
        }

        return models;
    }

    internal static string? Text(JsonObject json, string name, List<string> problems, string path = "config")
    {
        if (json[name] is not { } node)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<string>(out var text) && text.Length > 0)
        {
            return text;
        }

        problems.Add($"{path}.{name} must be a non-empty string.");
        return null;
    }

    internal static int? Integer(JsonObject json, string name, int min, int max, List<string> problems, string path = "config")
    {
        if (json[name] is not { } node)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<int>(out var number) && number >= min && number <= max)
        {
            return number;
        }

        problems.Add($"{path}.{name} must be an integer from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
        return null;
    }

    private static bool? Boolean(JsonObject json, string name, List<string> problems)
    {
        if (json[name] is not { } node)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<bool>(out var flag))
        {
            return flag;
        }

        problems.Add($"config.{name} must be true or false.");
        return null;
    }

    private static double? Number(JsonObject json, string name, List<string> problems)
    {
        if (json[name] is not { } node)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<double>(out var number))
        {
            return number;
        }

        problems.Add($"config.{name} must be a number.");
        return null;
    }

    private static decimal? Money(JsonObject json, string name, List<string> problems)
    {
        if (json[name] is not { } node)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<decimal>(out var amount) && amount > 0)
        {
            return amount;
        }

        problems.Add($"config.{name} must be a positive number of US dollars.");
        return null;
    }
}
