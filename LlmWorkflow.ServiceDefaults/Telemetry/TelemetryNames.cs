namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>The activity sources and meters every service exports.</summary>
public static class TelemetryNames
{
    /// <summary>
    /// The project's own ActivitySource and Meter name. Engine defines them itself (it does not reference this
    /// project); both sides only agree on the name.
    /// </summary>
    public const string LlmWorkflow = "LlmWorkflow";

    /// <summary>The source of our Redis client's command spans (defined in Engine, like the one above).</summary>
    public const string LlmWorkflowRedis = "LlmWorkflow.Redis";

    /// <summary>Activity sources: ASP.NET Core and HttpClient's built-in ones, Npgsql's, and ours.</summary>
    public static readonly IReadOnlyList<string> ActivitySources =
        ["Microsoft.AspNetCore", "System.Net.Http", "Npgsql", LlmWorkflow, LlmWorkflowRedis];

    /// <summary>Meters built into .NET and ASP.NET Core, Npgsql's, and ours.</summary>
    public static readonly IReadOnlyList<string> Meters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "System.Net.Http",
        "System.Runtime",
        "Npgsql",
        LlmWorkflow,
    ];
}
