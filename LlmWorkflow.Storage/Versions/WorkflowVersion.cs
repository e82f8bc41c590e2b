using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Templates;

namespace LlmWorkflow.Storage.Versions;

/// <summary>
/// One version of a workflow as a job runs it: the definition, the prompt files its steps use and the price rows of
/// the models it names, with the SHA-256 (hex) of their canonical JSON (object keys sorted, no whitespace). Equal
/// content gives the same hash on every process, so the hash names the version everywhere.
/// </summary>
public sealed class WorkflowVersion
{
    private PromptLibrary? _promptLibrary;
    private PinnedPriceTable? _priceTable;

    private WorkflowVersion(string hash, WorkflowDefinition definition, JsonObject definitionJson, JsonObject prompts, JsonObject prices)
    {
        Hash = hash;
        Definition = definition;
        DefinitionJson = definitionJson;
        Prompts = prompts;
        Prices = prices;
    }

    /// <summary>64 lowercase hex characters.</summary>
    public string Hash { get; }

    /// <summary>The first 12 characters of <see cref="Hash"/>, for display.</summary>
    public string ShortHash => Hash[..12];

    public string WorkflowName => Definition.Name;

    public WorkflowDefinition Definition { get; }

    /// <summary>The canonical definition JSON the hash covers.</summary>
    public JsonObject DefinitionJson { get; }

    /// <summary>Relative prompt path -> raw text, for every prompt file (and include) the steps use.</summary>
    public JsonObject Prompts { get; }

    /// <summary><c>provider/model</c> -> {input_per_million, output_per_million, cached_input_per_million?}; null for an unpriced model.</summary>
    public JsonObject Prices { get; }

    /// <summary>The prompts of this version as a library the runner reads instead of the prompts folder.</summary>
    public PromptLibrary PromptLibrary(string promptsRoot) =>
        _promptLibrary ??= Engine.Templates.PromptLibrary.FromFiles(promptsRoot,
            Prompts.ToDictionary(p => p.Key, p => (string?)p.Value ?? "", StringComparer.Ordinal));

    /// <summary>The prices of this version in front of <paramref name="current"/> (for models it does not name).</summary>
    public IPriceTable PriceTable(IPriceTable current) =>
        _priceTable ??= new PinnedPriceTable(
            Prices.ToDictionary(
                p => p.Key,
                p => p.Value is JsonObject row
                    ? new ModelPrice(
                        (decimal)row["input_per_million"]!,
                        (decimal)row["output_per_million"]!,
                        (decimal?)row["cached_input_per_million"])
                    : null,
                StringComparer.OrdinalIgnoreCase),
            current);

    /// <summary>The version of a loaded definition, with its prompt files read through <paramref name="prompts"/> and its prices from <paramref name="prices"/>.</summary>
    public static WorkflowVersion Of(WorkflowDefinition definition, PromptLibrary prompts, IPriceTable prices)
    {
        var definitionJson = Canonical(JsonSerializer.SerializeToNode(definition, DefinitionJsonContext.Default.WorkflowDefinition)!.AsObject());
        var (files, inline, models) = References(definition, prompts);
        var promptJson = new JsonObject();
        foreach (var (path, text) in prompts.FilesUsed(files, inline))
        {
            promptJson[path] = text;
        }

        var priceJson = new JsonObject();
        foreach (var model in models.Order(StringComparer.Ordinal))
        {
            priceJson[model] = prices.TryGetPrice(model, out var price)
                ? new JsonObject
                {
                    ["input_per_million"] = price.InputPerMillion,
                    ["output_per_million"] = price.OutputPerMillion,
                    ["cached_input_per_million"] = price.CachedInputPerMillion,
                }
                : null;
        }

        return Create(definition, definitionJson, promptJson, Canonical(priceJson));
    }

    /// <summary>
    /// A stored version (a row of <c>llm_workflow_versions</c>) under the hash it was stored with: JSONB may write a
    /// number differently than it was sent (1E-05 as 0.00001), so the hash is the row's key, not computed again.
    /// </summary>
    public static WorkflowVersion FromStored(string hash, JsonObject definitionJson, JsonObject prompts, JsonObject prices)
    {
        var loaded = WorkflowDefinitionLoader.Parse(definitionJson.ToJsonString(), "llm_workflow_versions");
        var definition = loaded.Definition
            ?? throw new InvalidOperationException($"A stored workflow version does not load: {string.Join("; ", loaded.Problems.Select(p => p.Message))}");
        return new WorkflowVersion(hash, definition, Canonical(definitionJson), Canonical(prompts), Canonical(prices));
    }

    /// <summary>A copy of this version's definition changed by <paramref name="change"/> (a fork's overrides): a new version.</summary>
    public WorkflowVersion With(Action<JsonObject> change, PromptLibrary prompts, IPriceTable prices)
    {
        var json = DefinitionJson.DeepClone().AsObject();
        change(json);
        var loaded = WorkflowDefinitionLoader.Parse(json.ToJsonString(), "fork");
        var definition = loaded.Definition
            ?? throw new InvalidOperationException($"The changed definition does not load: {string.Join("; ", loaded.Problems.Select(p => p.Message))}");
        var changed = Of(definition, prompts, prices);

        // The prompt files stay those of this version (the fork runs the pinned prompts), plus any the change adds.
        var promptJson = Prompts.DeepClone().AsObject();
        foreach (var (path, text) in changed.Prompts)
        {
            if (!promptJson.ContainsKey(path))
            {
                promptJson[path] = text?.DeepClone();
            }
        }

        var priceJson = Prices.DeepClone().AsObject();
        foreach (var (model, price) in changed.Prices)
        {
            if (!priceJson.ContainsKey(model))
            {
                priceJson[model] = price?.DeepClone();
            }
        }

        return Create(definition, changed.DefinitionJson, Canonical(promptJson), Canonical(priceJson));
    }

    private static WorkflowVersion Create(WorkflowDefinition definition, JsonObject definitionJson, JsonObject prompts, JsonObject prices)
    {
        var content = new JsonObject
        {
            ["definition"] = definitionJson.DeepClone(),
            ["prices"] = prices.DeepClone(),
            ["prompts"] = prompts.DeepClone(),
        };
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content.ToJsonString())));
        return new WorkflowVersion(hash, definition, definitionJson, prompts, prices);
    }

    /// <summary>Prompt files, inline prompt texts (for their includes) and models named by the definition's llm steps.</summary>
    private static (List<string> Files, List<string> Inline, HashSet<string> Models) References(WorkflowDefinition definition, PromptLibrary prompts)
    {
        var files = new List<string>();
        var inline = new List<string>();
        var models = new HashSet<string>(StringComparer.Ordinal);
        foreach (var location in WorkflowWalker.Walk(definition).Where(l => l.Step.Type == StepTypes.Llm))
        {
            LlmStepConfig config;
            try
            {
                config = location.Step.Config.Deserialize(DefinitionJsonContext.Default.LlmStepConfig) ?? new LlmStepConfig();
            }
            catch (JsonException)
            {
                continue; // the validator reports it
            }

            files.AddRange(new[] { config.PromptFile, config.SystemFile }.OfType<string>());
            inline.AddRange(new[] { config.Prompt, config.System }.OfType<string>());
            inline.AddRange(config.Messages?.Select(m => m.Content) ?? []);
            models.UnionWith(config.Model);
            if (config.PromptFile is { } file && FrontMatterModel(prompts, file) is { } fromFile)
            {
                models.Add(fromFile);
            }
        }

        foreach (var step in WorkflowWalker.Walk(definition).Where(l => l.Step.Type == StepTypes.Agent).Select(l => l.Step))
        {
            // An agent step's instructions and models are pinned like an llm step's prompt and models.
            var agent = LlmWorkflow.Engine.Agents.AgentStepConfig.Parse(step.Config, out _);
            files.AddRange(new[] { agent.InstructionsFile }.OfType<string>());
            inline.AddRange(new[] { agent.Instructions }.OfType<string>());
            models.UnionWith(agent.Models);
        }

        return (files, inline, models);
    }

    private static string? FrontMatterModel(PromptLibrary prompts, string file)
    {
        try
        {
            return prompts.Load(file).FrontMatter.Model;
        }
        catch (Engine.Execution.WorkflowException)
        {
            return null;
        }
    }

    /// <summary>The same JSON with every object's keys in ordinal order, so equal content serializes to equal text.</summary>
    internal static JsonObject Canonical(JsonObject node) => (JsonObject)CanonicalNode(node)!;

    private static JsonNode? CanonicalNode(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, CanonicalNode(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(CanonicalNode)]),
        _ => node?.DeepClone(),
    };
}
