using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Steps;
using LlmWorkflow.Engine.Templates;

namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// Plans a run without calling anything: validates the workflow and the input, resolves what input and context
/// can resolve (step outputs and for_each items stay as expression text), renders prompts, walks both branches of
/// every conditional and estimates LLM cost with the billing price table. Per call: input tokens ≈ rendered
/// characters / 4; output tokens min 1, expected <see cref="ExpectedOutputShare"/> of max, max = max_tokens
/// (or <see cref="LlmCostEstimator.DefaultMaxOutputTokens"/>). for_each bodies count once per item when the
/// items resolve, else once (flagged).
/// </summary>
public sealed class DryRunPlanner(WorkflowValidator validator, PromptLibrary? prompts = null, IPriceTable? prices = null)
{
    public const double ExpectedOutputShare = 0.25;

    public DryRunPlan Plan(WorkflowDefinition workflow, JsonNode? input, JsonObject? context = null)
    {
        var (planning, total) = Walk(workflow, input, context);
        return new DryRunPlan
        {
            Problems = validator.Validate(workflow, workflow.Name + ".json"),
            InputProblems = workflow.InputSchema is { } schema ? InputSchemaValidator.Validate(schema, input) : [],
            Steps = planning.Steps,
            MinCostUsd = total.Min,
            ExpectedCostUsd = total.Expected,
            MaxCostUsd = total.Max,
            UnpricedModels = [.. planning.Unpriced],
        };
    }

    /// <summary>
    /// The planned steps only, without validating the workflow (it already runs): what a running job's remaining-cost
    /// forecast (<see cref="JobCostForecast"/>) reads its prompts, token and run counts from.
    /// </summary>
    public IReadOnlyList<DryRunStep> PlanSteps(WorkflowDefinition workflow, JsonNode? input, JsonObject? context) =>
        Walk(workflow, input, context).Planning.Steps;

    private (Planning Planning, Cost Total) Walk(WorkflowDefinition workflow, JsonNode? input, JsonObject? context)
    {
        var planning = new Planning(new ExpressionScope(input, new Dictionary<string, JsonNode?>(), context));
        return (planning, PlanBlock(workflow.Steps, "$.steps", new Placement(0, null, null, 1, false), planning));
    }

    /// <summary>Where a step sits and how often it runs.</summary>
    private sealed record Placement(int Depth, string? ParentStepId, string? Branch, int Runs, bool RunsUnknown);

    private sealed record Planning(ExpressionScope Scope)
    {
        public List<DryRunStep> Steps { get; } = [];

        public SortedSet<string> Unpriced { get; } = new(StringComparer.Ordinal);
    }

    private readonly record struct Cost(decimal Min, decimal Expected, decimal Max)
    {
        public static Cost operator +(Cost a, Cost b) => new(a.Min + b.Min, a.Expected + b.Expected, a.Max + b.Max);
    }

    private Cost PlanBlock(IReadOnlyList<StepDefinition> steps, string listPath, Placement placement, Planning planning)
    {
        var total = default(Cost);
        for (var i = 0; i < steps.Count; i++)
        {
            total += PlanStep(steps[i], $"{listPath}[{i}]", placement, planning);
        }

        return total;
    }

    private Cost PlanStep(StepDefinition step, string path, Placement placement, Planning planning)
    {
        var planned = new DryRunStep
        {
            Id = step.Id,
            DisplayName = step.Label,
            Type = step.Type,
            JsonPath = path,
            Depth = placement.Depth,
            ParentStepId = placement.ParentStepId,
            Branch = placement.Branch,
            Runs = placement.Runs,
            RunsUnknown = placement.RunsUnknown,
            ResolvedConfig = (JsonObject?)ResolvePartially(WithoutNestedSteps(step), planning.Scope),
        };
        if (step.Type == StepTypes.Llm)
        {
            var (llmStep, cost) = PlanLlm(step, planned, planning);
            planning.Steps.Add(llmStep);
            return cost;
        }

        planning.Steps.Add(planned);
        Placement Nested(string branch) => placement with { Depth = placement.Depth + 1, ParentStepId = step.Id, Branch = branch };
        switch (step.ControlFlow)
        {
            case ConditionalStepConfig conditional:
                var then = PlanBlock(conditional.Then, $"{path}.config.then", Nested("then"), planning);
                var otherwise = PlanBlock(conditional.Else, $"{path}.config.else", Nested("else"), planning);
                return new(Math.Min(then.Min, otherwise.Min), (then.Expected + otherwise.Expected) / 2, Math.Max(then.Max, otherwise.Max));
            case ParallelStepConfig parallel:
                return parallel.Branches.Aggregate(default(Cost), (sum, branch) =>
                    sum + PlanBlock(branch.Value, $"{path}.config.branches.{branch.Key}", Nested(branch.Key), planning));
            case ForEachStepConfig forEach:
                var items = ResolvePartially(forEach.Items, planning.Scope) as JsonArray;
                var body = Nested("steps") with
                {
                    Runs = placement.Runs * (items?.Count ?? 1),
                    RunsUnknown = placement.RunsUnknown || items is null,
                };
                return PlanBlock(forEach.Steps, $"{path}.config.steps", body, planning);
            default:
                return default;
        }
    }

    private (DryRunStep Step, Cost Cost) PlanLlm(StepDefinition step, DryRunStep planned, Planning planning)
    {
        LlmPromptRenderer.RenderedPrompt prompt;
        LlmStepConfig config;
        try
        {
            config = WithInlineExpressions(step.Config, planning).Deserialize(DefinitionJsonContext.Default.LlmStepConfig)!;
            prompt = LlmPromptRenderer.Render(config, prompts, ResolvePartially(config.Variables, planning.Scope) ?? planning.Scope.Input);
        }
        catch (Exception ex) when (ex is JsonException or WorkflowException)
        {
            return (planned with { Note = ex.Message }, default);
        }

        IReadOnlyList<string> models = config.Model.Count > 0 ? config.Model : prompt.FrontMatter.Model is { } fromFile ? [fromFile] : [];
        var inputTokens = LlmCostEstimator.EstimateTokens(string.Concat(prompt.Messages.Select(m => m.Text)));
        var maxOutput = config.MaxTokens ?? prompt.FrontMatter.MaxTokens ?? LlmCostEstimator.DefaultMaxOutputTokens;
        var expectedOutput = Math.Max(1, (int)(maxOutput * ExpectedOutputShare));
        var priced = models.Where(model => prices?.TryGetPrice(model, out _) == true).ToList();
        planning.Unpriced.UnionWith(models.Except(priced));

        decimal? Cost(IEnumerable<string> chain, int outputTokens, Func<IEnumerable<decimal>, decimal> pick) =>
            chain.Select(model => prices!.Cost(model, inputTokens, outputTokens)).OfType<decimal>().ToList() is { Count: > 0 } costs
                ? pick(costs) * planned.Runs
                : null;

        // The first model answers normally; any model of the chain may answer in the worst and best case.
        var min = Cost(priced, 1, Enumerable.Min);
        var expected = Cost(priced.Take(1), expectedOutput, Enumerable.First);
        var max = Cost(priced, maxOutput, Enumerable.Max);
        var result = planned with
        {
            RenderedPrompt = string.Join("\n\n", prompt.Messages.Select(m => $"{m.Role}: {m.Text}")),
            Models = models,
            EstimatedInputTokens = inputTokens,
            MinOutputTokens = 1,
            ExpectedOutputTokens = expectedOutput,
            MaxOutputTokens = maxOutput,
            ConfiguredMaxTokens = config.MaxTokens ?? prompt.FrontMatter.MaxTokens,
            MinCostUsd = min,
            ExpectedCostUsd = expected,
            MaxCostUsd = max,
        };
        return (result, new(min ?? 0, expected ?? 0, max ?? 0));
    }

    /// <summary>The config of a control-flow step without its nested step lists (those are planned as steps).</summary>
    private static JsonObject WithoutNestedSteps(StepDefinition step)
    {
        var config = (JsonObject)step.Config.DeepClone();
        if (step.ControlFlow is not null)
        {
            foreach (var key in new[] { "then", "else", "branches", "steps" })
            {
                config.Remove(key);
            }
        }

        return config;
    }

    /// <summary>The config with what can be resolved now resolved in the inline prompt texts, as the llm step resolves them at run time.</summary>
    private static JsonObject WithInlineExpressions(JsonObject config, Planning planning)
    {
        var copy = config.DeepClone().AsObject();
        foreach (var key in new[] { "prompt", "system", "messages" })
        {
            if (copy.ContainsKey(key))
            {
                copy[key] = ResolvePartially(copy[key], planning.Scope);
            }
        }

        return copy;
    }

    /// <summary>Resolves each string that can be resolved now; a string with any run-time reference stays as written.</summary>
    private static JsonNode? ResolvePartially(JsonNode? node, ExpressionScope scope) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, ResolvePartially(p.Value, scope)))),
        JsonArray array => new JsonArray([.. array.Select(element => ResolvePartially(element, scope))]),
        JsonValue value when value.TryGetValue<string>(out var text) && text.Contains("${", StringComparison.Ordinal) => TryResolve(value, scope),
        _ => node?.DeepClone(),
    };

    private static JsonNode? TryResolve(JsonValue value, ExpressionScope scope)
    {
        try
        {
            return ValueResolver.Resolve(value, scope)?.DeepClone();
        }
        catch (Exception ex) when (ex is WorkflowException or ExpressionSyntaxException)
        {
            return value.DeepClone();
        }
    }
}
