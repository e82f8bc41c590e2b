using System.Diagnostics;

namespace LlmWorkflow.Pipeline.Redis;

/// <summary>
/// Spans for commands of our own RESP client (<c>db.system.name = redis</c>). They have their own source so that the
/// sampler can tell idle polling from real work (ServiceDefaults subscribes to it by name).
/// </summary>
internal static class RedisTelemetry
{
    public const string SourceName = "LlmWorkflow.Redis";

    public static readonly ActivitySource ActivitySource = new(SourceName);
}
