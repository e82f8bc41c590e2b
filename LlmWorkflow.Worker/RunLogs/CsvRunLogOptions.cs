namespace LlmWorkflow.Worker.RunLogs;

/// <summary>
/// Configuration section <c>RunLogs</c>: document 004's CSV run logs. Off unless a directory is set
/// (<c>CSV_LOG_DIR</c> or <c>RunLogs:CsvDirectory</c>): a service that never asked for files writes none.
/// </summary>
public sealed class CsvRunLogOptions
{
    public const string SectionName = "RunLogs";

    /// <summary>Document 004's setting name for <see cref="CsvDirectory"/>.</summary>
    public const string DirectoryVariable = "CSV_LOG_DIR";

    /// <summary>Where <c>{run_id}.csv</c> and <c>{run_id}/</c> (each LLM step's prompt and output) are written.</summary>
    public string? CsvDirectory { get; set; }

    /// <summary>The workflows whose runs are logged; unset: <c>generate_project</c> (document 004's runs).</summary>
    public string[]? Workflows { get; set; }

    public IReadOnlyCollection<string> LoggedWorkflows => Workflows is { Length: > 0 } names ? names : ["generate_project"];
}
