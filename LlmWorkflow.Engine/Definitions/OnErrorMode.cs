namespace LlmWorkflow.Engine.Definitions;

/// <summary>What the runner does when a step fails.</summary>
public enum OnErrorMode
{
    /// <summary>Stop the run with the step's error.</summary>
    Fail,

    /// <summary>Record the error, set the step's output to null and go on.</summary>
    Continue,

    /// <summary>Run the step again with exponential backoff, then fail.</summary>
    Retry,

    /// <summary>Record the error and use a fixed value as the step's output.</summary>
    Default,
}
