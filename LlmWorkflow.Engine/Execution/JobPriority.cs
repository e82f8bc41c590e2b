namespace LlmWorkflow.Engine.Execution;

/// <summary>
/// The priority (0-10) of the job running on this flow. Ambient, set by the worker around a job's run, so that what
/// plugs in beside the run (the admission's priority band, docs/ADMISSION.md) reads it for every LLM call the job makes
/// (an llm step, an agent's turns, a tool's calls) without each call site passing it on. Unset outside a job (a local
/// CLI run, a test calling the gateway).
/// </summary>
public static class JobPriority
{
    /// <summary>The lowest priority of the high band (7-10), the band the dispatch queue reads first (PriorityBands).</summary>
    public const int High = 7;

    private static readonly AsyncLocal<int?> CurrentPriority = new();

    /// <summary>The running job's priority; null outside a job.</summary>
    public static int? Current
    {
        get => CurrentPriority.Value;
        set => CurrentPriority.Value = value;
    }

    /// <summary>Whether the running job is in the high band.</summary>
    public static bool IsHigh => CurrentPriority.Value >= High;
}
