namespace LlmWorkflow.Engine.Execution;

/// <summary>How a run ended.</summary>
public enum WorkflowRunStatus
{
    Completed,
    Failed,

    /// <summary>The caller's cancellation token fired (not a timeout, which is a failure).</summary>
    Cancelled,

    /// <summary>
    /// A step parks the run until a time (<see cref="WorkflowRunResult.Wait"/>): the caller stores it and runs the
    /// workflow again when it is due, with <see cref="WorkflowRunOptions.ResumedWait"/>; finished steps come back from
    /// their checkpoints.
    /// </summary>
    Waiting,
}
