namespace LlmWorkflow.Api.Mcp;

/// <summary>
/// A job's status in the MCP Tasks vocabulary (working, input_required, completed, failed, cancelled): a task's status
/// (<see cref="WorkflowMcpTasks"/>) and <c>get_job</c>'s <c>mcp_task_status</c>; a job parked on an
/// approval or a signal needs someone's input, every other wait (a sleep, a provider budget, a batch) is still working.
/// </summary>
internal static class McpTaskStatus
{
    public const string Working = "working";
    public const string InputRequired = "input_required";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static string Of(string jobStatus, string? waitKind) => jobStatus switch
    {
        "completed" => Completed,
        "failed" => Failed,
        "cancelled" => Cancelled,
        "waiting" when waitKind is "approval" or "event" => InputRequired,
        _ => Working,
    };
}
