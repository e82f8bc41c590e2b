namespace LlmWorkflow.AppHost.Hosting;

/// <summary>Where a resource is in its life, as shown in the resource table.</summary>
public enum ResourceState
{
    /// <summary>Not started yet.</summary>
    NotStarted,

    /// <summary>Started, not yet ready (no healthy probe or ready log line yet).</summary>
    Starting,

    /// <summary>Ready for work.</summary>
    Running,

    /// <summary>Still running, but its readiness check never passed.</summary>
    Unhealthy,

    /// <summary>Ended on its own (crash, kill, error).</summary>
    Exited,

    /// <summary>Being stopped by the AppHost.</summary>
    Stopping,

    /// <summary>Stopped by the AppHost.</summary>
    Stopped,
}
