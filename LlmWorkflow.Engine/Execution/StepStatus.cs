namespace LlmWorkflow.Engine.Execution;

/// <summary>How a step ended.</summary>
public enum StepStatus
{
    Completed,
    Failed,

    /// <summary>Not run: on the branch of a conditional that was not taken.</summary>
    Skipped,

    /// <summary>Failed with <c>on_error: continue</c>; its output is null.</summary>
    ContinuedAfterError,

    /// <summary>Failed with <c>on_error: default</c>; its output is the configured value.</summary>
    Defaulted,
}

public static class StepStatusNames
{
    /// <summary>The wire form stored in job step records: completed, failed, skipped, continued_after_error, defaulted.</summary>
    public static string ToWire(this StepStatus status) => status switch
    {
        StepStatus.Completed => "completed",
        StepStatus.Failed => "failed",
        StepStatus.Skipped => "skipped",
        StepStatus.ContinuedAfterError => "continued_after_error",
        StepStatus.Defaulted => "defaulted",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };
}
