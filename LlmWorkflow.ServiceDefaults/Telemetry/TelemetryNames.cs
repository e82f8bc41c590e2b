namespace LlmWorkflow.ServiceDefaults.Telemetry;

/// <summary>The project's own activity sources and meters, which every service exports.</summary>
public static class TelemetryNames
{
    /// <summary>
    /// The project's own ActivitySource and Meter name. Engine defines them itself (it does not reference this
    /// project); both sides only agree on the name.
    /// </summary>
    public const string LlmWorkflow = "LlmWorkflow";

    /// <summary>Our activity sources; ASP.NET Core, HttpClient, Npgsql and Redis come with their instrumentation.</summary>
    public static readonly IReadOnlyList<string> ActivitySources = [LlmWorkflow];

    /// <summary>Our meters; ASP.NET Core, HttpClient, the runtime and Npgsql come with their instrumentation.</summary>
    public static readonly IReadOnlyList<string> Meters = [LlmWorkflow];
}
