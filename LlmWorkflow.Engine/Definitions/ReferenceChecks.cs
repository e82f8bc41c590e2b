using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Checks that every <c>${steps.x...}</c> names a step whose output exists when it is read: it finished earlier
/// on the same path. After a conditional or parallel step its nested steps count as finished (a step of the branch
/// not taken reads as missing at run time); steps inside a for_each body exist only within their iteration.
/// </summary>
internal sealed class ReferenceChecks
{
    private readonly ProblemList _problems;
    private readonly Dictionary<StepDefinition, StepLocation> _locations = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, StepLocation> _byId = new(StringComparer.Ordinal);

    private readonly TransformRegistry? _transforms;

    public ReferenceChecks(IEnumerable<StepLocation> locations, TransformRegistry? transforms, ProblemList problems)
    {
        _problems = problems;
        _transforms = transforms;
        foreach (var location in locations)
        {
            _locations[location.Step] = location;
            _byId.TryAdd(location.Step.Id, location);
        }
    }

    public void Check(WorkflowDefinition workflow)
    {
        CheckBlock(workflow.Steps, [], insideForEach: false);

        var finished = new HashSet<string>(StringComparer.Ordinal);
        foreach (var step in workflow.Steps)
        {
            AddFinished(step, finished);
        }

        CheckReferences(Find(workflow.Output, "$.output"), finished, consumer: null, allowsItem: _ => false);
    }

    private void CheckBlock(IReadOnlyList<StepDefinition> steps, HashSet<string> available, bool insideForEach)
    {
        foreach (var step in steps)
        {
            var stepPath = _locations[step].JsonPath;
            CheckReferences(ReferencesOf(step, stepPath), available, step, reference => insideForEach || IsItemScoped(step, stepPath, reference));
            foreach (var block in step.Blocks)
            {
                CheckBlock(block.Steps, [.. available], insideForEach || step.Type == StepTypes.ForEach);
            }

            AddFinished(step, available);
        }
    }

    /// <summary>Transforms such as map and filter evaluate some options per element, where item/index are theirs.</summary>
    private bool IsItemScoped(StepDefinition step, string stepPath, ExpressionReference reference)
    {
        if (step.Type == StepTypes.Agent)
        {
            // In an agent's tools, item is the model's arguments to the call (docs/AGENTS.md).
            return IsUnder(reference.JsonPath, $"{stepPath}.config.tools");
        }

        if (step.Type != StepTypes.Transform)
        {
            return false;
        }

        if (_transforms is null)
        {
            return true;
        }

        var operation = step.Config["operation"] is JsonValue value && value.TryGetValue<string>(out var name) ? name : null;
        return operation is not null && _transforms.TryGet(operation, out var transform)
            && transform.ItemScopedOptions.Any(option => IsUnder(reference.JsonPath, $"{stepPath}.config.{option}"));
    }

    private static bool IsUnder(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] is '.' or '[');

    private static void AddFinished(StepDefinition step, HashSet<string> finished)
    {
        finished.Add(step.Id);
        if (step.Type == StepTypes.ForEach)
        {
            return;
        }

        foreach (var nested in step.Blocks.SelectMany(block => block.Steps))
        {
            AddFinished(nested, finished);
        }
    }

    private IEnumerable<ExpressionReference> ReferencesOf(StepDefinition step, string stepPath) => step.ControlFlow switch
    {
        ConditionalStepConfig conditional => ConditionReferences(conditional.Condition, $"{stepPath}.config.condition"),
        ForEachStepConfig forEach => Find(forEach.Items, $"{stepPath}.config.items"),
        ParallelStepConfig => [],
        _ => Find(step.Config, $"{stepPath}.config"),
    };

    /// <summary>Syntax errors in conditions are reported with the step's other checks.</summary>
    private static IEnumerable<ExpressionReference> ConditionReferences(string condition, string jsonPath)
    {
        try
        {
            return Condition.Parse(condition).References.Select(r => r with { JsonPath = jsonPath });
        }
        catch (ExpressionSyntaxException)
        {
            return [];
        }
    }

    private IReadOnlyList<ExpressionReference> Find(JsonNode? template, string jsonPath)
    {
        try
        {
            return ValueResolver.FindReferences(template, jsonPath);
        }
        catch (ExpressionSyntaxException ex)
        {
            _problems.Add(ex.JsonPath ?? jsonPath, ValidationCodes.InvalidExpression, ex.Message,
                "Write references as ${input.x}, ${steps.<id>.output.y} or ${context.z}; $${ writes a literal ${.");
            return [];
        }
    }

    private void CheckReferences(IEnumerable<ExpressionReference> references, HashSet<string> available, StepDefinition? consumer, Func<ExpressionReference, bool> allowsItem)
    {
        foreach (var reference in references)
        {
            if (reference.Root is "item" or "index" && !allowsItem(reference))
            {
                _problems.Add(reference.JsonPath, ValidationCodes.ItemOutsideForEach,
                    $"{reference.Text} exists only inside the sub-steps of a for_each step.",
                    "Move this step into a for_each body, or reference the list itself.");
            }
            else if (reference is { Root: "steps", StepId: { } target } && !available.Contains(target))
            {
                ReportUnavailable(reference, target, consumer);
            }
        }
    }

    private void ReportUnavailable(ExpressionReference reference, string target, StepDefinition? consumer)
    {
        if (!_byId.TryGetValue(target, out var targetLocation))
        {
            _problems.Add(reference.JsonPath, ValidationCodes.UnknownStepReference,
                $"{reference.Text} refers to step \"{target}\", which does not exist.",
                $"Use the id of an earlier step: {string.Join(", ", _byId.Keys)}.");
            return;
        }

        var targetAncestors = Ancestors(targetLocation.Step);
        var consumerAncestors = consumer is null ? [] : Ancestors(consumer);
        if (consumer is not null && (target == consumer.Id || consumerAncestors.Any(a => a.Step.Id == target)))
        {
            _problems.Add(reference.JsonPath, ValidationCodes.CircularReference,
                $"{reference.Text} refers to the output of the step itself or of a step enclosing it.",
                "Reference only steps that finish before this one starts.");
        }
        else if (targetAncestors.FirstOrDefault(a => a.Step.Type == StepTypes.ForEach && !consumerAncestors.Any(c => ReferenceEquals(c.Step, a.Step))) is { Step: { } forEach })
        {
            _problems.Add(reference.JsonPath, ValidationCodes.ForEachScopeReference,
                $"{reference.Text} refers to step \"{target}\" inside for_each step \"{forEach.Id}\"; it exists only within each iteration.",
                $"Reference ${{steps.{forEach.Id}.output}} (one entry per item) instead.");
        }
        else if (targetAncestors.FirstOrDefault(t => t.Step.Type == StepTypes.Parallel
                     && consumerAncestors.Any(c => ReferenceEquals(c.Step, t.Step) && c.Block != t.Block)) is { Step: { } parallel, Block: var branch })
        {
            _problems.Add(reference.JsonPath, ValidationCodes.CrossBranchReference,
                $"{reference.Text} refers to step \"{target}\" in branch \"{branch}\" of parallel step \"{parallel.Id}\", which runs concurrently with this one.",
                "Reference it after the parallel step, or move both steps into the same branch.");
        }
        else
        {
            _problems.Add(reference.JsonPath, ValidationCodes.ForwardReference,
                $"{reference.Text} refers to step \"{target}\", which runs after this one.",
                $"Move \"{target}\" before this step or reference an earlier step.");
        }
    }

    /// <summary>The enclosing control-flow steps, innermost first, with the block of each that holds the path down.</summary>
    private List<(StepDefinition Step, string? Block)> Ancestors(StepDefinition step)
    {
        var chain = new List<(StepDefinition, string?)>();
        for (var location = _locations[step]; location.Parent is { } parent; location = _locations[parent])
        {
            chain.Add((parent, location.Block));
        }

        return chain;
    }
}
