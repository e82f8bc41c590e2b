using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>A finished leaf step saved so a resumed run can skip it.</summary>
/// <param name="Output">The full output (not size-capped) that later steps read.</param>
/// <param name="Record">The record as first written.</param>
public sealed record StepCheckpoint(string StepKey, JsonNode? Output, StepRecord Record)
{
    /// <summary>
    /// True for the run's last top-level step: nothing of the run follows it but the run's end, so a store may write
    /// it together with the run's outcome instead of on its own.
    /// </summary>
    public bool EndsRun { get; init; }
}
