using System.Globalization;

namespace LlmWorkflow.Worker.RunLogs;

/// <summary>One row of a run's CSV log: one event of the run, in document 004's columns and their order.</summary>
internal sealed record CsvRunLogRow
{
    /// <summary>Document 004's CSV fields.</summary>
    public static readonly string[] Header =
    [
        "timestamp", "run_id", "stage", "model", "temperature", "prompt_tokens", "completion_tokens", "cost_est",
        "decision_summary", "input_path", "output_path", "warning",
    ];

    public required string Timestamp { get; init; }

    public required string RunId { get; init; }

    /// <summary>The event: run_started, plan_started, section_completed, llm_call, error, ...</summary>
    public required string Stage { get; init; }

    public string? Model { get; init; }

    /// <summary>Empty: a step record does not carry the temperature its call used.</summary>
    public double? Temperature { get; init; }

    public int? PromptTokens { get; init; }

    public int? CompletionTokens { get; init; }

    /// <summary>USD; empty when the model is unpriced.</summary>
    public decimal? CostEst { get; init; }

    public string? DecisionSummary { get; init; }

    /// <summary>The step's rendered prompt and input, relative to the CSV directory.</summary>
    public string? InputPath { get; init; }

    /// <summary>The step's output, relative to the CSV directory.</summary>
    public string? OutputPath { get; init; }

    public string? Warning { get; init; }

    /// <summary>The row's fields in <see cref="Header"/> order; null is an empty field.</summary>
    public string?[] Fields() =>
    [
        Timestamp, RunId, Stage, Model, Format(Temperature), Format(PromptTokens), Format(CompletionTokens), Format(CostEst),
        DecisionSummary, InputPath, OutputPath, Warning,
    ];

    private static string? Format<T>(T? value) where T : struct, IFormattable => value?.ToString(null, CultureInfo.InvariantCulture);
}
