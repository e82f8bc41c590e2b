using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Templates;
using LlmWorkflow.Engine.Transforms;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// Finds every problem in a loaded workflow at once, each with its JSON path and a fix hint (codes in
/// <see cref="ValidationCodes"/>). Checks needing a collaborator run only when it is given.
/// Unreachable steps reported: the block of a conditional whose condition is a literal (no references) and the
/// body of a for_each over a literal empty array. Steps after one that always fails are not detected: a step's
/// failure depends on run-time data.
/// </summary>
/// <param name="promptsRequired">
/// Without <paramref name="prompts"/>, report every prompt file as unresolvable (a run without a prompt library fails
/// with <c>prompts_not_configured</c>) instead of skipping the check; the CLI sets it so validate agrees with run.
/// </param>
public sealed partial class WorkflowValidator(
    TransformRegistry? transforms = null,
    PromptLibrary? prompts = null,
    IExternalServiceGateway? services = null,
    IModelCatalog? models = null,
    bool promptsRequired = false)
{
    public IReadOnlyList<ValidationProblem> Validate(WorkflowDefinition workflow, string file)
    {
        var problems = new ProblemList(file);
        CheckWorkflow(workflow, problems);

        var locations = WorkflowWalker.Walk(workflow).ToList();
        var firstById = new Dictionary<string, StepLocation>(StringComparer.Ordinal);
        var leafChecks = new LeafConfigChecks(services, models, problems);
        foreach (var location in locations)
        {
            if (!firstById.TryAdd(location.Step.Id, location))
            {
                problems.Add($"{location.JsonPath}.id", ValidationCodes.DuplicateStepId,
                    $"Step id \"{location.Step.Id}\" is already used at {firstById[location.Step.Id].JsonPath}.",
                    "Step ids are global, nested steps included: rename one of them.");
            }

            CheckStep(location, leafChecks, problems);
        }

        new ReferenceChecks(locations, transforms, problems).Check(workflow);
        return problems.Items;
    }

    private static void CheckWorkflow(WorkflowDefinition workflow, ProblemList problems)
    {
        if (!WorkflowNamePattern().IsMatch(workflow.Name))
        {
            problems.Add("$.name", ValidationCodes.InvalidName, $"\"{workflow.Name}\" is not a valid workflow name.", "Use lower-case letters, digits and underscores, e.g. emergency_contacts.");
        }

        if (workflow.Steps.Count == 0)
        {
            problems.Add("$.steps", ValidationCodes.NoSteps, "The workflow has no steps.", "Add at least one step.");
        }

        if (workflow.TimeoutSeconds is <= 0)
        {
            problems.Add("$.timeout_seconds", ValidationCodes.InvalidTimeout, "timeout_seconds must be positive.", "Remove it for no limit or set e.g. 120.");
        }

        if (workflow.MaxCostUsd is <= 0)
        {
            problems.Add("$.max_cost_usd", ValidationCodes.InvalidBudget, "max_cost_usd must be positive.", "Remove it for no budget or set e.g. 0.50.");
        }
    }

    private void CheckPromptFile(string file, string jsonPath, ProblemList problems)
    {
        if (prompts is null && promptsRequired)
        {
            problems.Add(jsonPath, ValidationCodes.MissingPromptFile,
                $"Prompt file \"{file}\" cannot be found: there is no workflows/prompts folder for this definition, so a run would fail with prompts_not_configured.",
                "Move the definition into workflows/definitions/ (prompts are read from workflows/prompts/), pass --workflows <dir>, or use an inline prompt.");
            return;
        }

        foreach (var message in prompts?.Check(file) ?? [])
        {
            problems.Add(jsonPath, ValidationCodes.MissingPromptFile, message, $"Create the file under {PromptLibrary.FolderName}/ or fix the path (includes too).");
        }
    }

    /// <summary>
    /// Inline prompts (<c>prompt</c>, <c>system</c>, <c>messages[].content</c>) are compiled as prompt files are, so a
    /// template syntax error fails validation and the catalog's load, not the first job that renders it; the compiled
    /// template is the one runs reuse.
    /// </summary>
    private void CheckInlinePrompts(JsonObject config, string configPath, ProblemList problems)
    {
        foreach (var (text, jsonPath) in InlinePrompts(config, configPath))
        {
            string? problem;
            try
            {
                problem = HandlebarsRenderer.SyntaxProblem((prompts?.FromText(text) ?? PromptTemplate.FromText(text)).Body);
            }
            catch (WorkflowException invalid)
            {
                problem = invalid.Message;
            }

            if (problem is not null)
            {
                problems.Add(jsonPath, ValidationCodes.InvalidPrompt, $"The inline prompt does not compile: {problem}",
                    "Close every {{#if}} and {{#each}} with {{/if}} and {{/each}}, and write variables as {{name}}.");
            }
        }
    }

    private static IEnumerable<(string Text, string JsonPath)> InlinePrompts(JsonObject config, string configPath)
    {
        foreach (var key in new[] { "prompt", "system" })
        {
            if (config[key] is JsonValue value && value.TryGetValue<string>(out var text))
            {
                yield return (text, $"{configPath}.{key}");
            }
        }

        if (config["messages"] is JsonArray messages)
        {
            for (var i = 0; i < messages.Count; i++)
            {
                if (messages[i]?["content"] is JsonValue content && content.TryGetValue<string>(out var text))
                {
                    yield return (text, $"{configPath}.messages[{i}].content");
                }
            }
        }
    }

    private void CheckTransform(JsonObject config, string configPath, LeafConfigChecks leafChecks, ProblemList problems)
    {
        if (leafChecks.Required(config, configPath, "operation", "the name of a transform, e.g. template") is not { } operation || transforms is null)
        {
            return;
        }

        if (!transforms.TryGet(operation, out var transform))
        {
            problems.Add($"{configPath}.operation", ValidationCodes.UnknownTransform, $"Unknown transform operation \"{operation}\".", $"Use one of: {string.Join(", ", transforms.Names)}.");
            return;
        }

        foreach (var problem in transform.Validate(config))
        {
            problems.Add(configPath + problem.JsonPath.TrimStart('$'), ValidationCodes.InvalidTransformConfig, problem.Message, problem.Hint ?? transform.Description);
        }
    }

    /// <summary>
    /// A sleep needs exactly one of <c>seconds</c> (a number, or an expression) and <c>until</c> (an expression or an
    /// RFC 3339 time). It may sit at any depth: inside a <c>parallel</c> branch or a <c>for_each</c> body the run parks once on
    /// every block's wait (docs/JOB_LIFECYCLE.md, "Waits inside parallel and for_each").
    /// </summary>
    private static void CheckSleep(StepLocation location, string configPath, ProblemList problems)
    {
        var config = location.Step.Config;
        var (seconds, until) = (config["seconds"], config["until"]);
        if (seconds is null == until is null)
        {
            problems.Add(configPath, ValidationCodes.MissingConfigProperty, "A sleep step needs exactly one of seconds and until.",
                "E.g. {\"seconds\": 3600} or {\"until\": \"${input.send_at}\"}.");
        }
        else if (seconds is JsonValue number && number.GetValueKind() == JsonValueKind.Number && number.ToJsonString().StartsWith('-'))
        {
            problems.Add($"{configPath}.seconds", ValidationCodes.InvalidConfigValue, "seconds must be 0 or more.", "E.g. 3600 for an hour.");
        }
        else if (seconds is JsonValue big && big.GetValueKind() == JsonValueKind.Number && big.GetValue<double>() > Steps.SleepStepHandler.MaxSeconds)
        {
            problems.Add($"{configPath}.seconds", ValidationCodes.InvalidConfigValue,
                $"seconds must be at most {Steps.SleepStepHandler.MaxSeconds} (a year), as far ahead as run_at and delay_seconds may schedule a job.",
                "Sleep at most a year, or schedule a new job for a later time.");
        }
        else if (seconds is not null and not JsonValue)
        {
            problems.Add($"{configPath}.seconds", ValidationCodes.InvalidConfigValue, "seconds must be a number or an expression.", "E.g. 3600 or \"${input.delay}\".");
        }
        else if (until is not null && !(until is JsonValue text && text.TryGetValue<string>(out _)))
        {
            problems.Add($"{configPath}.until", ValidationCodes.InvalidConfigValue, "until must be a string: an RFC 3339 time with an offset or an expression.", "E.g. \"${input.send_at}\".");
        }

        foreach (var key in config.Select(p => p.Key).Where(k => k is not ("seconds" or "until")))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.UnknownConfigProperty, $"A sleep step has no \"{key}\".", "Use seconds or until.");
        }
    }

    /// <summary>
    /// A wait needs an <c>event</c> name (what <c>POST /api/v1/jobs/{id}/signals/{event}</c> names), a positive
    /// <c>timeout_seconds</c> if any, an <c>on_timeout</c> of fail, continue or default (with <c>default</c>), and runs
    /// at the top level.
    /// </summary>
    private static void CheckWaitForEvent(StepLocation location, string configPath, ProblemList problems)
    {
        var config = location.Step.Config;
        if (config["event"] is not JsonValue name || !name.TryGetValue<string>(out var eventName) || !EventNamePattern().IsMatch(eventName))
        {
            problems.Add($"{configPath}.event", ValidationCodes.MissingConfigProperty,
                "A wait_for_event step needs an event name: 1-100 letters, digits, '_', '-', '.' or ':'.", "E.g. \"approval\".");
        }

        CheckTimeout(config, configPath, problems);
        foreach (var key in config.Select(p => p.Key).Where(k => k is not ("event" or "timeout_seconds" or "on_timeout" or "default")))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.UnknownConfigProperty, $"A wait_for_event step has no \"{key}\".", "Use event, timeout_seconds, on_timeout and default.");
        }
    }

    /// <summary>
    /// An approval needs a <c>prompt</c> (a string: the question the person answers), may have <c>show</c> (any value or
    /// expression: what is being approved) and an <c>event</c> (default <c>approval</c>), and times out like a wait.
    /// </summary>
    private static void CheckApproval(StepLocation location, string configPath, ProblemList problems)
    {
        var config = location.Step.Config;
        if (config["prompt"] is not JsonValue prompt || !prompt.TryGetValue<string>(out var text) || string.IsNullOrWhiteSpace(text))
        {
            problems.Add($"{configPath}.prompt", ValidationCodes.MissingConfigProperty, "An approval step needs a prompt: the question the approver answers.",
                "E.g. \"Publish this draft?\".");
        }

        if (config["event"] is { } eventNode && !(eventNode is JsonValue name && name.TryGetValue<string>(out var eventName) && EventNamePattern().IsMatch(eventName)))
        {
            problems.Add($"{configPath}.event", ValidationCodes.InvalidConfigValue,
                "event must be 1-100 letters, digits, '_', '-', '.' or ':'.", "Leave it out for \"approval\".");
        }

        CheckTimeout(config, configPath, problems);
        foreach (var key in config.Select(p => p.Key).Where(k => k is not ("prompt" or "show" or "event" or "timeout_seconds" or "on_timeout" or "default")))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.UnknownConfigProperty, $"An approval step has no \"{key}\".",
                "Use prompt, show, event, timeout_seconds, on_timeout and default.");
        }
    }

    /// <summary>A wait's positive <c>timeout_seconds</c>, its <c>on_timeout</c> of fail, continue or default, and <c>default</c> only with the latter.</summary>
    private static void CheckTimeout(JsonObject config, string configPath, ProblemList problems)
    {
        if (config["timeout_seconds"] is { } timeout
            && !(timeout is JsonValue number && number.GetValueKind() == JsonValueKind.Number && !number.ToJsonString().StartsWith('-') && number.ToJsonString() != "0"))
        {
            problems.Add($"{configPath}.timeout_seconds", ValidationCodes.InvalidConfigValue, "timeout_seconds must be a positive number.", "E.g. 86400 for a day.");
        }
        else if (config["timeout_seconds"] is JsonValue longest && longest.GetValue<double>() > Steps.SleepStepHandler.MaxSeconds)
        {
            problems.Add($"{configPath}.timeout_seconds", ValidationCodes.InvalidConfigValue,
                $"timeout_seconds must be at most {Steps.SleepStepHandler.MaxSeconds} (a year), as a sleep.", "E.g. 604800 for a week.");
        }

        var onTimeout = (string?)(config["on_timeout"] as JsonValue);
        if (config["on_timeout"] is not null && onTimeout is not ("fail" or "continue" or "default"))
        {
            problems.Add($"{configPath}.on_timeout", ValidationCodes.InvalidConfigValue, "on_timeout must be fail, continue or default.", "fail (the default) fails the step at the timeout.");
        }

        if (config["default"] is not null && onTimeout != "default")
        {
            problems.Add($"{configPath}.default", ValidationCodes.InvalidConfigValue, "default is used only with on_timeout: default.", "Set on_timeout to default, or remove default.");
        }
    }

    /// <summary>What a signal's event may be called (a URL path segment).</summary>
    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,100}$")]
    public static partial Regex EventNamePattern();

    private void CheckStep(StepLocation location, LeafConfigChecks leafChecks, ProblemList problems)
    {
        var (step, path) = (location.Step, location.JsonPath);
        if (!StepIdPattern().IsMatch(step.Id))
        {
            problems.Add($"{path}.id", ValidationCodes.InvalidStepId, $"\"{step.Id}\" is not a valid step id.", "Start with a letter or underscore; use letters, digits, _ and -.");
        }

        if (step.TimeoutSeconds is <= 0)
        {
            problems.Add($"{path}.timeout_seconds", ValidationCodes.InvalidTimeout, "timeout_seconds must be positive.", "Remove it for no step limit or set e.g. 30.");
        }

        if (step.OnError is { } onError)
        {
            CheckOnError(onError, $"{path}.on_error", problems);
        }

        var configPath = $"{path}.config";
        foreach (var key in MissingControlFlowKeys(step))
        {
            problems.Add($"{configPath}.{key}", ValidationCodes.MissingConfigProperty, $"A {step.Type} step needs \"{key}\" in its config.",
                ControlFlowKeyHints[key]);
        }

        switch (step.Type)
        {
            case StepTypes.Llm:
                foreach (var (file, filePath) in leafChecks.CheckLlm(step.Config, configPath))
                {
                    CheckPromptFile(file, filePath, problems);
                }

                CheckInlinePrompts(step.Config, configPath, problems);
                break;
            case StepTypes.ExternalApi:
                leafChecks.CheckExternal(step.Config, configPath);
                break;
            case StepTypes.Transform:
                CheckTransform(step.Config, configPath, leafChecks, problems);
                break;
            case StepTypes.Conditional when step.ControlFlow is ConditionalStepConfig conditional:
                CheckConditional(conditional, configPath, problems);
                break;
            case StepTypes.Parallel when step.ControlFlow is ParallelStepConfig parallel:
                CheckParallel(parallel, configPath, problems);
                break;
            case StepTypes.ForEach when step.ControlFlow is ForEachStepConfig forEach:
                CheckForEach(forEach, configPath, problems);
                break;
            case StepTypes.Sleep:
                CheckSleep(location, configPath, problems);
                break;
            case StepTypes.WaitForEvent:
                CheckWaitForEvent(location, configPath, problems);
                break;
            case StepTypes.Approval:
                CheckApproval(location, configPath, problems);
                break;
            case StepTypes.Agent:
                Agents.AgentConfigChecks.Check(step.Config, configPath, problems);
                break;
            case var type when !StepTypes.IsKnown(type):
                problems.Add($"{path}.type", ValidationCodes.UnknownStepType, $"Unknown step type \"{type}\".", $"Use one of: {string.Join(", ", StepTypes.All)}.");
                break;
        }
    }

    private static void CheckOnError(OnErrorPolicy policy, string path, ProblemList problems)
    {
        if (policy.Mode == OnErrorMode.Retry)
        {
            if (policy.MaxAttempts is < 1 or > 10)
            {
                problems.Add($"{path}.max_attempts", ValidationCodes.InvalidOnError, "max_attempts must be from 1 to 10.", "Use e.g. 3 (the first attempt included).");
            }

            if (policy.BackoffSeconds is < 0)
            {
                problems.Add($"{path}.backoff_seconds", ValidationCodes.InvalidOnError, "backoff_seconds cannot be negative.", "Use e.g. 1.");
            }

            if (policy.BackoffMultiplier is < 1)
            {
                problems.Add($"{path}.backoff_multiplier", ValidationCodes.InvalidOnError, "backoff_multiplier must be 1 or more.", "Use e.g. 2 for exponential backoff.");
            }
        }
        else if (policy.MaxAttempts is not null || policy.BackoffSeconds is not null || policy.BackoffMultiplier is not null)
        {
            problems.Add(path, ValidationCodes.InvalidOnError, "max_attempts and backoff settings apply only to mode \"retry\".", "Set mode to \"retry\" or remove them.");
        }

        if (policy.Mode != OnErrorMode.Default && policy.Value is not null)
        {
            problems.Add($"{path}.value", ValidationCodes.InvalidOnError, "value applies only to mode \"default\".", "Set mode to \"default\" or remove value.");
        }
    }

    private static void CheckConditional(ConditionalStepConfig config, string configPath, ProblemList problems)
    {
        Condition condition;
        try
        {
            condition = Condition.Parse(config.Condition);
        }
        catch (ExpressionSyntaxException ex)
        {
            problems.Add($"{configPath}.condition", ValidationCodes.InvalidCondition, ex.Message, "See the condition language: comparisons, and/or/not, exists, contains, in.");
            return;
        }

        if (condition.References.Count == 0)
        {
            var (deadKey, dead) = condition.Evaluate(ExpressionScope.Empty) ? ("else", config.Else) : ("then", config.Then);
            if (dead.Count > 0)
            {
                problems.Add($"{configPath}.{deadKey}", ValidationCodes.UnreachableSteps,
                    $"The condition \"{config.Condition}\" is constant, so the {deadKey} steps never run.",
                    "Make the condition depend on input or step outputs, or remove the dead branch.");
            }
        }
    }

    private static void CheckParallel(ParallelStepConfig config, string configPath, ProblemList problems)
    {
        if (config.Branches.Count == 0)
        {
            problems.Add($"{configPath}.branches", ValidationCodes.InvalidConfigValue, "A parallel step needs at least one branch.", "Add branches: {\"a\": [steps], \"b\": [steps]}.");
        }

        foreach (var (branchId, steps) in config.Branches.Where(branch => branch.Value.Count == 0))
        {
            problems.Add($"{configPath}.branches.{branchId}", ValidationCodes.InvalidConfigValue, $"Branch \"{branchId}\" has no steps.", "Add steps or remove the branch.");
        }

        if (config.MaxConcurrency is < 1)
        {
            problems.Add($"{configPath}.max_concurrency", ValidationCodes.InvalidConfigValue, "max_concurrency must be at least 1.", "Remove it to run all branches at once.");
        }
    }

    private static void CheckForEach(ForEachStepConfig config, string configPath, ProblemList problems)
    {
        switch (config.Items)
        {
            case JsonArray { Count: 0 } when config.Steps.Count > 0:
                problems.Add($"{configPath}.steps", ValidationCodes.UnreachableSteps, "items is an empty literal array, so the sub-steps never run.", "Point items at an expression such as ${input.places}.");
                break;
            case JsonArray:
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                break;
            default:
                problems.Add($"{configPath}.items", ValidationCodes.InvalidConfigValue, "items must be an expression yielding an array or a literal array.", "Write e.g. \"items\": \"${steps.search.output.results}\".");
                break;
        }

        if (config.Steps.Count == 0)
        {
            problems.Add($"{configPath}.steps", ValidationCodes.InvalidConfigValue, "A for_each step needs at least one sub-step.", "Add the steps to run per item.");
        }

        if (config.MaxConcurrency is < 1)
        {
            problems.Add($"{configPath}.max_concurrency", ValidationCodes.InvalidConfigValue, "max_concurrency must be at least 1.", $"Remove it for the default of 4.");
        }
    }

    /// <summary>The keys a control-flow step's config must have (the workflow schema's required members).</summary>
    private static readonly Dictionary<string, string[]> ControlFlowRequiredKeys = new(StringComparer.Ordinal)
    {
        [StepTypes.Conditional] = ["condition"],
        [StepTypes.Parallel] = ["branches"],
        [StepTypes.ForEach] = ["items", "steps"],
    };

    private static readonly Dictionary<string, string> ControlFlowKeyHints = new(StringComparer.Ordinal)
    {
        ["condition"] = "E.g. \"condition\": \"input.score > 0.5\".",
        ["branches"] = "E.g. \"branches\": {\"a\": [steps], \"b\": [steps]}.",
        ["items"] = "E.g. \"items\": \"${input.places}\".",
        ["steps"] = "E.g. \"steps\": [the steps to run per item].",
    };

    /// <summary>The required keys <paramref name="step"/>'s config lacks (none for a step that is not control flow).</summary>
    public static IReadOnlyList<string> MissingControlFlowKeys(StepDefinition step) =>
        ControlFlowRequiredKeys.TryGetValue(step.Type, out var keys) ? [.. keys.Where(k => step.Config[k] is null)] : [];

    [GeneratedRegex("^[a-z][a-z0-9_-]*$")]
    private static partial Regex WorkflowNamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex StepIdPattern();
}
