using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.External;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Literal checks of <c>llm</c> and <c>external_api</c> configs against their JSON. Only <c>variables</c> and
/// <c>params</c> may hold expressions; every other field must be a literal of the right type.
/// </summary>
internal sealed class LeafConfigChecks(IExternalServiceGateway? services, IModelCatalog? models, ProblemList problems)
{
    private static readonly string[] LlmProperties =
        ["model", "prompt", "prompt_file", "messages", "system", "system_file", "variables", "temperature", "max_tokens", "response_format", "json_schema", "stream", "cache_ttl_seconds"];

    private static readonly string[] ExternalProperties = ["service", "operation", "params"];
    private static readonly string[] MessageRoles = ["system", "user", "assistant"];

    /// <summary>Checks an llm config; returns the prompt files it names (relative to the prompts root) with their JSON paths.</summary>
    public IEnumerable<(string File, string JsonPath)> CheckLlm(JsonObject config, string configPath)
    {
        RejectUnknown(config, configPath, LlmProperties);
        CheckModel(config, configPath);

        var sources = new[] { "prompt", "prompt_file", "messages" }.Where(config.ContainsKey).ToList();
        if (sources.Count != 1)
        {
            problems.Add(configPath, ValidationCodes.InvalidPromptSource,
                sources.Count == 0 ? "The llm step has no prompt." : $"The llm step has more than one prompt source: {string.Join(", ", sources)}.",
                "Use exactly one of prompt (inline text), prompt_file (path under workflows/prompts) or messages.");
        }

        if (config.ContainsKey("system") && config.ContainsKey("system_file"))
        {
            problems.Add(configPath, ValidationCodes.InvalidPromptSource, "The llm step has both system and system_file.", "Keep one of them.");
        }

        ExpectString(config, configPath, "prompt");
        ExpectString(config, configPath, "system");
        var files = new List<(string, string)>();
        foreach (var key in new[] { "prompt_file", "system_file" })
        {
            if (ExpectString(config, configPath, key) is { } file)
            {
                files.Add((file, $"{configPath}.{key}"));
            }
        }

        CheckMessages(config, configPath);
        Expect(config, configPath, "variables", node => node is JsonObject, "an object of expressions", "{\"city\": \"${input.city}\"}");
        Expect(config, configPath, "temperature", node => Number(node) is >= 0 and <= 2, "a number from 0 to 2", "0.7");
        Expect(config, configPath, "max_tokens", node => Integer(node) is >= 1, "a positive whole number", "1024");
        Expect(config, configPath, "response_format", node => node?.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is "text" or "json", "\"text\" or \"json\"", "\"json\"");
        Expect(config, configPath, "json_schema", node => node is JsonObject, "an object (a JSON Schema)", "{\"type\": \"object\", \"required\": [\"contacts\"]}");
        if (config["json_schema"] is JsonObject schema)
        {
            // Validated in full at run time: refuse now what could never be used (remote $ref, not a schema).
            foreach (var (path, message) in StructuredOutput.StructuredOutputSchema.Problems(schema, $"{configPath}.json_schema"))
            {
                problems.Add(path, ValidationCodes.InvalidConfigValue, $"{path}: {message}", "Keep $ref local (\"#/$defs/name\") and the schema valid JSON Schema.");
            }
        }
        Expect(config, configPath, "stream", node => node?.GetValueKind() is JsonValueKind.True or JsonValueKind.False, "true or false", "true");
        Expect(config, configPath, "cache_ttl_seconds", node => Integer(node) is >= 0, "a whole number of seconds, 0 or more", "3600");
        return files;
    }

    public void CheckExternal(JsonObject config, string configPath)
    {
        RejectUnknown(config, configPath, ExternalProperties);
        var service = Required(config, configPath, "service", "a registered service name such as weatherapi");
        var operation = Required(config, configPath, "operation", "an operation of that service");
        Expect(config, configPath, "params", node => node is JsonObject, "an object of parameters", "{\"lat\": \"${input.lat}\"}");
        if (service is not null && operation is not null && services?.Describe(service, operation) is { } message)
        {
            problems.Add($"{configPath}.service", ValidationCodes.UnknownExternalService, message, "Use a service and operation the worker registers.");
        }
    }

    /// <summary>A required literal string property; reports and returns null when missing or not a string.</summary>
    public string? Required(JsonObject config, string configPath, string key, string what)
    {
        if (!config.ContainsKey(key))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.MissingConfigProperty, $"config.{key} is required.", $"Set {key} to {what}.");
            return null;
        }

        return ExpectString(config, configPath, key);
    }

    private void CheckModel(JsonObject config, string configPath)
    {
        var path = $"{configPath}.model";
        switch (config["model"])
        {
            case null when !config.ContainsKey("model"):
                // A prompt file's front matter may name the model; the run fails clearly if it does not.
                if (config.ContainsKey("prompt_file"))
                {
                    break;
                }

                problems.Add(path, ValidationCodes.MissingConfigProperty, "config.model is required.", "Set model to a \"provider/model\" id, e.g. \"openai/gpt-4o-mini\".");
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                CheckModelId(value.GetValue<string>(), path);
                break;
            case JsonArray { Count: > 0 } chain:
                for (var i = 0; i < chain.Count; i++)
                {
                    if (chain[i]?.GetValueKind() == JsonValueKind.String)
                    {
                        CheckModelId(chain[i]!.GetValue<string>(), $"{path}[{i}]");
                    }
                    else
                    {
                        problems.Add($"{path}[{i}]", ValidationCodes.InvalidModel, "Fallback chain entries must be \"provider/model\" strings.", "Write e.g. \"anthropic/claude-3.5-haiku\".");
                    }
                }

                break;
            default:
                problems.Add(path, ValidationCodes.InvalidModel, "model must be a \"provider/model\" string or a non-empty array of them.", "Write e.g. \"openai/gpt-4o-mini\".");
                break;
        }
    }

    private void CheckModelId(string model, string path)
    {
        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == model.Length - 1)
        {
            problems.Add(path, ValidationCodes.InvalidModel, $"\"{model}\" is not a \"provider/model\" id.", "Prefix the model with its provider, e.g. \"openai/gpt-4o-mini\" or \"mock/echo\".");
        }
        else if (models?.Check(model) is { } problem)
        {
            problems.Add(path, problem.Code, problem.Message, problem.Hint);
        }
    }

    private void CheckMessages(JsonObject config, string configPath)
    {
        if (!config.TryGetPropertyValue("messages", out var node))
        {
            return;
        }

        var path = $"{configPath}.messages";
        if (node is not JsonArray { Count: > 0 } messages)
        {
            problems.Add(path, ValidationCodes.InvalidConfigValue, "messages must be a non-empty array of {role, content}.", "Write [{\"role\": \"user\", \"content\": \"...\"}].");
            return;
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var role = messages[i]?["role"];
            var content = messages[i]?["content"];
            if (messages[i] is not JsonObject
                || role?.GetValueKind() != JsonValueKind.String || !MessageRoles.Contains(role.GetValue<string>())
                || content?.GetValueKind() != JsonValueKind.String)
            {
                problems.Add($"{path}[{i}]", ValidationCodes.InvalidConfigValue, "Each message needs role (system, user or assistant) and content (text).", "Write {\"role\": \"user\", \"content\": \"Hello {{name}}\"}.");
            }
        }
    }

    /// <summary>Keys of the original documents' shape and their names here; `llmwf upgrade` renames them.</summary>
    private static readonly Dictionary<string, string> DocumentKeys = new(StringComparer.Ordinal)
    {
        ["config"] = "params",
        ["prompt_template"] = "prompt_file",
        ["system_template"] = "system_file",
    };

    private void RejectUnknown(JsonObject config, string configPath, string[] allowed)
    {
        foreach (var (key, _) in config)
        {
            if (!allowed.Contains(key))
            {
                var hint = DocumentKeys.TryGetValue(key, out var renamed) && allowed.Contains(renamed)
                    ? $"This is the original documents' name for {renamed}: rename it, or run `llmwf upgrade <file>` to upgrade the whole definition."
                    : $"Known properties: {string.Join(", ", allowed)}.";
                problems.Add($"{configPath}.{key}", ValidationCodes.UnknownConfigProperty, $"config.{key} is not a known property.", hint);
            }
        }
    }

    private string? ExpectString(JsonObject config, string configPath, string key)
    {
        if (!config.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        if (node?.GetValueKind() == JsonValueKind.String)
        {
            return node.GetValue<string>();
        }

        problems.Add($"{configPath}.{key}", ValidationCodes.InvalidConfigValue, $"config.{key} must be text.", $"Write {key} as a JSON string.");
        return null;
    }

    private void Expect(JsonObject config, string configPath, string key, Func<JsonNode?, bool> isValid, string what, string example)
    {
        if (config.TryGetPropertyValue(key, out var node) && !isValid(node))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.InvalidConfigValue, $"config.{key} must be {what} (expressions are not allowed here).", $"Write e.g. \"{key}\": {example}.");
        }
    }

    private static double? Number(JsonNode? node) =>
        node?.GetValueKind() == JsonValueKind.Number ? node.GetValue<double>() : null;

    private static double? Integer(JsonNode? node) => Number(node) is { } n && double.IsInteger(n) ? n : null;
}
