namespace LlmWorkflow.AppHost.Hosting;

/// <summary>
/// Whether this invocation runs the application or publishes its manifest, as Aspire's execution context: settings
/// only meant for a developer's machine are added in run mode.
/// </summary>
public sealed class DistributedApplicationExecutionContext(bool isPublishMode)
{
    /// <summary>Writing the manifest; nothing is started.</summary>
    public bool IsPublishMode { get; } = isPublishMode;

    /// <summary>Running the resources locally.</summary>
    public bool IsRunMode => !IsPublishMode;
}
