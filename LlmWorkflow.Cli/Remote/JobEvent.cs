using LlmWorkflow.Contracts;

namespace LlmWorkflow.Cli.Remote;

/// <summary>One Server-Sent Event of a job: its stream id (for Last-Event-ID), type and payload (the shared wire record).</summary>
public sealed record JobEvent(string? Id, string Type, LiveJobEvent Data)
{
    public bool IsTerminal => LiveEventTypes.Terminal.Contains(Type);
}
