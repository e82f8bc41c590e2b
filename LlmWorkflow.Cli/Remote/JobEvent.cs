using System.Text.Json.Nodes;

namespace LlmWorkflow.Cli.Remote;

/// <summary>One Server-Sent Event of a job: its stream id (for Last-Event-ID), type and JSON payload.</summary>
public sealed record JobEvent(string? Id, string Type, JsonObject Data)
{
    public static readonly IReadOnlySet<string> TerminalTypes = new HashSet<string>(StringComparer.Ordinal) { "run_completed", "run_failed", "cancelled" };

    public bool IsTerminal => TerminalTypes.Contains(Type);
}
