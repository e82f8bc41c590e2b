namespace LlmWorkflow.AppHost.Hosting;

/// <summary>One line of the resource table.</summary>
public sealed record ResourceRow(string Name, string State, int? ProcessId, string Endpoint);
