namespace LlmWorkflow.ServiceDefaults.Health;

/// <summary>Tags that decide which probe a health check takes part in.</summary>
public static class HealthCheckTags
{
    /// <summary>Checked by <c>/alive</c>: the process itself works. Keep these free of dependencies.</summary>
    public const string Live = "live";

    /// <summary>Dependencies the service needs to do work (database, Redis, workers); checked by <c>/health</c>.</summary>
    public const string Ready = "ready";
}
