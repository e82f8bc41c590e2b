namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// The step type names accepted in <c>type</c>. <c>for_each</c> is its own type rather than a parallel form:
/// it has one body run per item, not named branches, and its output is an array in item order.
/// </summary>
public static class StepTypes
{
    public const string Llm = "llm";
    public const string ExternalApi = "external_api";
    public const string Transform = "transform";
    public const string Conditional = "conditional";
    public const string Parallel = "parallel";
    public const string ForEach = "for_each";

    /// <summary>Waits durably for a time: the job parks (status waiting, no worker slot) and resumes on any worker when due.</summary>
    public const string Sleep = "sleep";

    /// <summary>
    /// Waits durably for a signal (<c>POST /api/v1/jobs/{id}/signals/{event}</c>) or its timeout: parked like a sleep;
    /// the signal's body becomes the step's output.
    /// </summary>
    public const string WaitForEvent = "wait_for_event";

    /// <summary>
    /// Waits durably for a person's decision: a <c>wait_for_event</c> of the <c>approval</c> event whose wait carries a
    /// prompt and what to show, from which the service issues signed decision links; the decision is the step's output.
    /// </summary>
    public const string Approval = "approval";

    /// <summary>A model with instructions and tools, looping durably until it answers or a cap ends it (docs/AGENTS.md).</summary>
    public const string Agent = "agent";

    public static IReadOnlyList<string> All { get; } = [Llm, ExternalApi, Transform, Conditional, Parallel, ForEach, Sleep, WaitForEvent, Approval, Agent];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);
}
