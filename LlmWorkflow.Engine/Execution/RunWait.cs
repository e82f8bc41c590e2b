namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// What a parked run waits for: the step that parked it (by its checkpoint key, so a resumed run knows which step's
/// wait it was), the kind of wait, and when it is due.
/// </summary>
/// <param name="StepId">The step's id, for status and events.</param>
/// <param name="StepKey">The step's checkpoint key (for_each iterations prefix it).</param>
/// <param name="Kind">"sleep".</param>
/// <param name="Until">When the run is to resume.</param>
public sealed record RunWait(string StepId, string StepKey, string Kind, DateTimeOffset Until);

/// <summary>Thrown by a step that parks the run; the runner turns it into a <see cref="WorkflowRunStatus.Waiting"/> result.</summary>
public sealed class RunParkedException(RunWait wait) : Exception($"The run waits until {wait.Until:O} at step \"{wait.StepId}\".")
{
    public RunWait Wait { get; } = wait;
}
