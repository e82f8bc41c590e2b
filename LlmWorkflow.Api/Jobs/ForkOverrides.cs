using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// A fork's <c>overrides</c>: <c>"steps.&lt;id&gt;.model"</c> (a <c>provider/model</c> id or a fallback list of them),
/// <c>"steps.&lt;id&gt;.prompt"</c> (inline text; replaces the step's prompt_file or messages) and
/// <c>"steps.&lt;id&gt;.temperature"</c> (0 to 2) of an llm step the fork runs, and <c>"input_data"</c>. Every problem
/// names its key as <c>overrides["steps.x.model"]</c>.
/// </summary>
internal sealed class ForkOverrides
{
    public static readonly IReadOnlyList<string> StepFields = ["model", "prompt", "temperature"];

    private readonly List<(string StepId, string Field, JsonNode Value)> _steps = [];

    /// <summary>The fork's input_data, or null to keep the source's.</summary>
    public JsonObject? InputData { get; private set; }

    public bool ChangesDefinition => _steps.Count > 0;

    /// <param name="rerun">The steps the fork runs (from_step on); overriding a step before it is refused: its output is reused.</param>
    /// <param name="firstStep">Whether from_step is the workflow's first step: only then may input_data change (no reused output was computed from the old input).</param>
    /// <param name="callProblem">What stops a well-formed model id from being called (an unknown provider, a missing key), or null: refused now rather than failing the fork at run time.</param>
    public static (ForkOverrides Overrides, List<SubmissionProblem> Problems) Parse(
        JsonObject? overrides, WorkflowDefinition workflow, string fromStep, IReadOnlyCollection<string> rerun, bool firstStep,
        Func<string, string?>? callProblem = null)
    {
        var parsed = new ForkOverrides();
        var problems = new List<SubmissionProblem>();
        var steps = WorkflowWalker.Walk(workflow).ToDictionary(l => l.Step.Id, l => l.Step, StringComparer.Ordinal);
        foreach (var (key, value) in overrides ?? [])
        {
            var field = $"overrides[\"{key}\"]";
            if (key == "input_data")
            {
                if (value is not JsonObject input)
                {
                    problems.Add(new(field, "input_data must be a JSON object."));
                }
                else if (!firstStep)
                {
                    problems.Add(new(field, $"input_data can change only when the fork runs from the first step (\"{workflow.Steps[0].Id}\"): the outputs it reuses before \"{fromStep}\" were computed from the source's input."));
                }
                else
                {
                    parsed.InputData = input;
                }

                continue;
            }

            var parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "steps")
            {
                problems.Add(new(field, $"Unknown override \"{key}\": use input_data or steps.<step id>.{string.Join("|", StepFields)}."));
                continue;
            }

            var (stepId, name) = (parts[1], parts[2]);
            if (!steps.TryGetValue(stepId, out var step))
            {
                problems.Add(new(field, $"The workflow has no step \"{stepId}\"."));
            }
            else if (!rerun.Contains(stepId))
            {
                problems.Add(new(field, $"Step \"{stepId}\" runs before from_step \"{fromStep}\": its output is reused, so it cannot be overridden."));
            }
            else if (!StepFields.Contains(name))
            {
                problems.Add(new(field, $"Unknown field \"{name}\": a step override sets one of {string.Join(", ", StepFields)}."));
            }
            else if (step.Type != StepTypes.Llm)
            {
                problems.Add(new(field, $"Step \"{stepId}\" is a {step.Type} step; {name} applies to llm steps."));
            }
            else if (TypeProblem(name, value, callProblem) is { } problem)
            {
                problems.Add(new(field, problem));
            }
            else
            {
                parsed._steps.Add((stepId, name, value!.DeepClone()));
            }
        }

        return (parsed, problems);
    }

    /// <summary>Applies the step overrides to a copy of the definition's JSON (the canonical JSON of its version).</summary>
    public void ApplyTo(JsonObject definition)
    {
        foreach (var (stepId, field, value) in _steps)
        {
            var config = FindStep(definition["steps"] as JsonArray, stepId)?["config"] as JsonObject
                ?? throw new InvalidOperationException($"Step {stepId} was validated but is not in the definition.");
            if (field == "prompt")
            {
                // The inline text replaces whatever the step's user prompt was.
                config.Remove("prompt_file");
                config.Remove("messages");
            }

            config[field] = value.DeepClone();
        }
    }

    private static string? TypeProblem(string field, JsonNode? value, Func<string, string?>? callProblem) => field switch
    {
        "model" => value switch
        {
            JsonValue v when v.TryGetValue<string>(out var model) => ModelProblem(model, callProblem),
            JsonArray { Count: > 0 } list when list.All(m => m is JsonValue mv && mv.TryGetValue<string>(out _)) =>
                list.Select(m => ModelProblem(m!.GetValue<string>(), callProblem)).FirstOrDefault(p => p is not null),
            _ => "model must be a \"provider/model\" string or a non-empty array of them.",
        },
        "prompt" => value is JsonValue p && p.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text)
            ? null
            : "prompt must be a non-empty string.",
        "temperature" => value is JsonValue t && t.GetValueKind() == JsonValueKind.Number && t.GetValue<double>() is >= 0 and <= 2
            ? null
            : "temperature must be a number from 0 to 2.",
        _ => null,
    };

    private static string? ModelProblem(string model, Func<string, string?>? callProblem) =>
        model.IndexOf('/', StringComparison.Ordinal) is > 0 && !model.EndsWith('/')
            ? callProblem?.Invoke(model)
            : $"\"{model}\" is not a \"provider/model\" id.";

    /// <summary>The step object with <paramref name="stepId"/> in a step list or the blocks nested in it (ids are unique).</summary>
    private static JsonObject? FindStep(JsonArray? steps, string stepId)
    {
        foreach (var step in steps?.OfType<JsonObject>() ?? [])
        {
            if ((string?)step["id"] == stepId)
            {
                return step;
            }

            if (step["config"] is not JsonObject config)
            {
                continue;
            }

            var nested = new[] { config["then"], config["else"], config["steps"] }.OfType<JsonArray>()
                .Concat((config["branches"] as JsonObject)?.Select(b => b.Value).OfType<JsonArray>() ?? []);
            if (nested.Select(block => FindStep(block, stepId)).FirstOrDefault(found => found is not null) is { } inBlock)
            {
                return inBlock;
            }
        }

        return null;
    }
}
