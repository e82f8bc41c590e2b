namespace LlmWorkflow.Cli.Display;

/// <summary>One line of the cost table printed after a run (local or on the service).</summary>
internal sealed record StepCostRow(
    string StepKey,
    string DisplayName,
    string Type,
    string Status,
    string? Model,
    int? InputTokens,
    int? OutputTokens,
    decimal? CostUsd,
    double? DurationMs);
