namespace LlmWorkflow.Engine.Execution;

/// <summary>How a run ended.</summary>
public enum WorkflowRunStatus
{
    Completed,
    Failed,

    /// <summary>The caller's cancellation token fired (not a timeout, which is a failure).</summary>
    Cancelled,
}
