using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Parses workflow JSON into a <see cref="WorkflowDefinition"/> with typed control-flow configs.</summary>
public static class WorkflowDefinitionLoader
{
    public const string InvalidJsonCode = "invalid_json";
    public const string InvalidDefinitionCode = "invalid_definition";

    public static WorkflowLoadResult LoadFile(string path) => Parse(File.ReadAllText(path), Path.GetFileName(path));

    /// <param name="source">Names the origin in problem reports (file name).</param>
    public static WorkflowLoadResult Parse(string json, string source)
    {
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            return new(null, [new(source, "$", InvalidJsonCode, JsonErrorText.Describe(ex), "Fix the JSON syntax at that line and column.")]);
        }

        WorkflowDefinition? definition;
        try
        {
            definition = document.Deserialize(DefinitionJsonContext.Default.WorkflowDefinition);
        }
        catch (JsonException ex)
        {
            var all = StructuralProblems(document, source);
            // The schema finds what the serializer never reached: a nested step's or a config's problems (issue 80).
            return new(null, WorkflowSchemaCheck.Merge(all.Count > 0 ? all : [ProblemFrom(ex, source, "$")], WorkflowSchemaCheck.Problems(document, source)));
        }

        if (definition is null)
        {
            return new(null, [new(source, "$", InvalidDefinitionCode, "The file holds null instead of a workflow object.", "Write a JSON object with name and steps.")]);
        }

        // A wrong on_budget, budget_check or concurrency is refused like a wrong member: the definition does not load (400 naming the field).
        if (Llm.Budgets.OnBudget.Problems(definition, source).Concat(Llm.Budgets.BudgetCheck.Problems(definition, source))
                .Concat(WorkflowConcurrency.Problems(definition, source)).ToList() is { Count: > 0 } definitionProblems)
        {
            return new(null, definitionProblems);
        }

        var problems = new List<ValidationProblem>();
        var steps = AttachAll(definition.Steps, "$.steps", source, problems);
        return new(definition with { Steps = steps }, problems);
    }

    private static List<StepDefinition> AttachAll(IReadOnlyList<StepDefinition> steps, string listPath, string source, List<ValidationProblem> problems) =>
        [.. steps.Select((step, index) => Attach(step, $"{listPath}[{index}]", source, problems))];

    /// <summary>Gives a control-flow step its typed config, recursively for the steps nested in it.</summary>
    private static StepDefinition Attach(StepDefinition step, string stepPath, string source, List<ValidationProblem> problems)
    {
        var configPath = stepPath + ".config";
        IControlFlowConfig? flow = step.Type switch
        {
            StepTypes.Conditional => Read(step, DefinitionJsonContext.Default.ConditionalStepConfig, configPath, source, problems) is { } c
                ? c with
                {
                    Then = AttachAll(c.Then, configPath + ".then", source, problems),
                    Else = AttachAll(c.Else, configPath + ".else", source, problems),
                }
                : null,
            StepTypes.Parallel => Read(step, DefinitionJsonContext.Default.ParallelStepConfig, configPath, source, problems) is { } p
                ? p with
                {
                    Branches = p.Branches.ToDictionary(
                        b => b.Key,
                        IReadOnlyList<StepDefinition> (b) => AttachAll(b.Value, $"{configPath}.branches.{b.Key}", source, problems),
                        StringComparer.Ordinal),
                }
                : null,
            StepTypes.ForEach => Read(step, DefinitionJsonContext.Default.ForEachStepConfig, configPath, source, problems) is { } f
                ? f with { Steps = AttachAll(f.Steps, configPath + ".steps", source, problems) }
                : null,
            _ => null,
        };
        return flow is null ? step : step with { ControlFlow = flow };
    }

    private static T? Read<T>(StepDefinition step, JsonTypeInfo<T> typeInfo, string configPath, string source, List<ValidationProblem> problems)
        where T : class
    {
        // A missing required key is the validator's to report, naming the key (WorkflowValidator.ControlFlowRequiredKeys);
        // with stand-ins for the missing keys the config is read on, so a misspelt key beside them is reported too.
        var missing = WorkflowValidator.MissingControlFlowKeys(step);
        var config = step.Config;
        if (missing.Count > 0)
        {
            config = config.DeepClone().AsObject();
            foreach (var key in missing)
            {
                config[key] = ControlFlowStandIns[key]();
            }
        }

        try
        {
            var read = config.Deserialize(typeInfo);
            return missing.Count > 0 ? null : read;
        }
        catch (JsonException ex)
        {
            problems.Add(ProblemFrom(ex, source, configPath));
            return null;
        }
    }

    /// <summary>Stand-ins of the right JSON kind for the control-flow keys a config may lack.</summary>
    private static readonly Dictionary<string, Func<JsonNode>> ControlFlowStandIns = new(StringComparer.Ordinal)
    {
        ["condition"] = () => JsonValue.Create("true"),
        ["branches"] = () => new JsonObject(),
        ["items"] = () => new JsonArray(),
        ["steps"] = () => new JsonArray(),
    };

    /// <summary>Required members, and a stand-in of the right JSON kind used while the rest is checked.</summary>
    private static readonly Dictionary<string, Func<JsonNode>> RequiredStandIns = new(StringComparer.Ordinal)
    {
        ["name"] = () => JsonValue.Create("stand_in"),
        ["steps"] = () => new JsonArray(),
        ["id"] = () => JsonValue.Create("stand_in"),
        ["type"] = () => JsonValue.Create("transform"),
    };

    /// <summary>
    /// Every structural problem of a definition the serializer refused, not only the first it met: the workflow's own
    /// members (its steps set aside), then each top-level step on its own. After each problem the offending member is
    /// set aside (a required one replaced by a stand-in of its kind) and the object is read again.
    /// </summary>
    private static List<ValidationProblem> StructuralProblems(JsonNode? document, string source)
    {
        if (document is not JsonObject workflow)
        {
            return [];
        }

        var withoutSteps = workflow.DeepClone().AsObject();
        var steps = withoutSteps["steps"] as JsonArray;
        if (steps is not null)
        {
            withoutSteps["steps"] = new JsonArray();
        }

        var problems = ReadEach(withoutSteps, DefinitionJsonContext.Default.WorkflowDefinition, source, "$");
        for (var i = 0; steps is not null && i < steps.Count; i++)
        {
            problems.AddRange(steps[i] is JsonObject step
                ? ReadEach(step.DeepClone().AsObject(), DefinitionJsonContext.Default.StepDefinition, source, $"$.steps[{i}]")
                : [new ValidationProblem(source, $"$.steps[{i}]", InvalidDefinitionCode, "Expected an object here.", "Each step is an object with id, type and config.")]);
        }

        return problems;
    }

    /// <summary>Reads <paramref name="item"/> until it reads, recording each problem and setting its member aside.</summary>
    private static List<ValidationProblem> ReadEach<T>(JsonObject item, JsonTypeInfo<T> typeInfo, string source, string basePath)
    {
        var problems = new List<ValidationProblem>();
        for (var attempt = 0; attempt < 64; attempt++)
        {
            try
            {
                item.Deserialize(typeInfo);
                return problems;
            }
            catch (JsonException ex)
            {
                problems.Add(ProblemFrom(ex, source, basePath));
                if (!SetAside(item, ex))
                {
                    return problems;
                }
            }
        }

        return problems;
    }

    /// <summary>Removes (or stands in for) what the serializer refused; false when nothing is left to set aside.</summary>
    private static bool SetAside(JsonObject item, JsonException ex)
    {
        var member = JsonErrorText.UnknownMember(ex)
            ?? (ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..].Split('.', '[')[0] : null);
        if (member is not null && item.ContainsKey(member))
        {
            item.Remove(member);
            if (RequiredStandIns.TryGetValue(member, out var standIn))
            {
                item[member] = standIn();
            }

            return true;
        }

        // A missing required member is reported at the object itself: stand in for every one that is missing.
        var missing = RequiredStandIns.Keys.Where(name => !item.ContainsKey(name) && ex.Message.Contains($"'{name}'", StringComparison.Ordinal)).ToList();
        foreach (var name in missing)
        {
            item[name] = RequiredStandIns[name]();
        }

        return missing.Count > 0;
    }

    /// <summary>Rebases the serializer's path (relative to what it read) onto the definition's path.</summary>
    private static ValidationProblem ProblemFrom(JsonException ex, string source, string basePath)
    {
        var relative = ex.Path is { Length: > 1 } path ? path[1..] : "";
        return new(source, basePath + relative, InvalidDefinitionCode, JsonErrorText.DescribeShape(ex), "Compare the property with workflows/workflow.schema.json.");
    }
}
