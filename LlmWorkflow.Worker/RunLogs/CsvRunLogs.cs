using System.Globalization;
using System.Text.Json.Nodes;
using CsvHelper;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.ServiceDefaults.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Worker.RunLogs;

/// <summary>
/// Document 004's CSV run logs: for each run of a logged workflow, <c>{run_id}.csv</c> gets one row per event of the
/// run (LLM deltas aside: a streamed answer would add a row per fragment) in 004's columns, and <c>{run_id}/</c> gets
/// each LLM step's prompt (<c>{step}.prompt.json</c>) and output (<c>{step}.output.json</c>). E-mail addresses are
/// redacted in everything written. The logs are best effort, like live events: a write that fails is logged and the
/// run goes on.
/// </summary>
internal sealed partial class CsvRunLogs(IOptions<CsvRunLogOptions> options, ILogger<CsvRunLogs> logger)
{
    private readonly CsvRunLogOptions _options = options.Value;

    /// <summary>The sink to run <paramref name="job"/> with: <paramref name="inner"/>, wrapped when the job's workflow is logged.</summary>
    public IProgressSink Wrap(IProgressSink inner, ClaimedJob job) =>
        _options.CsvDirectory is { Length: > 0 } directory && _options.LoggedWorkflows.Contains(job.WorkflowName, StringComparer.Ordinal)
            ? new Sink(inner, new RunLogFile(Path.GetFullPath(directory), job.Id.ToString()), this)
            : inner;

    private async ValueTask AppendAsync(RunLogFile file, ProgressEvent progressEvent)
    {
        try
        {
            await file.AppendAsync(progressEvent);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogWriteFailed(ex, progressEvent.Kind, file.RunId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the {Kind} row of run {RunId} to its CSV run log")]
    private partial void LogWriteFailed(Exception ex, string kind, string runId);

    private sealed class Sink(IProgressSink inner, RunLogFile file, CsvRunLogs logs) : IProgressSink
    {
        public async ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
        {
            await inner.PublishAsync(progressEvent, cancellationToken);
            if (progressEvent is not LlmDelta)
            {
                await logs.AppendAsync(file, progressEvent);
            }
        }
    }

    /// <summary>One run's log: rows appended in event order (parallel steps publish concurrently, so one at a time).</summary>
    private sealed class RunLogFile(string directory, string runId)
    {
        private readonly SemaphoreSlim _gate = new(1, 1);

        public string RunId => runId;

        public async Task AppendAsync(ProgressEvent progressEvent)
        {
            await _gate.WaitAsync();
            try
            {
                Directory.CreateDirectory(directory);
                var row = Row(progressEvent) with { RunId = runId };
                if (progressEvent is StepCompleted { Record: { RenderedPrompt: not null } record })
                {
                    row = row with { InputPath = await WriteStepFileAsync(record.StepKey, "prompt", new JsonObject { ["prompt"] = record.RenderedPrompt, ["input"] = record.Input?.DeepClone() }),
                                     OutputPath = await WriteStepFileAsync(record.StepKey, "output", record.Output?.DeepClone()) };
                }

                // Opened for each row and closed after it: the file is complete whenever a reader looks, and a run
                // resumed later (here or on another worker sharing the directory) appends to it.
                var path = Path.Combine(directory, runId + ".csv");
                await using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
                await using var csv = CsvWriter.Create(file, CsvWriterOptions.Default with { NewLine = "\n" });
                if (file.Position == 0)
                {
                    csv.WriteHeader(CsvRunLogRow.Header);
                }

                await csv.WriteRecordAsync(Redacted(row).Fields());
                await csv.FlushAsync();
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>Writes <c>{run_id}/{step}.{kind}.json</c>, redacted; returns its path relative to the CSV directory.</summary>
        private async Task<string> WriteStepFileAsync(string stepKey, string kind, JsonNode? content)
        {
            // Step keys inside for_each carry brackets and slashes: keep file names plain.
            var name = string.Concat(stepKey.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_'));
            var relative = Path.Combine(runId, $"{name}.{kind}.json");
            Directory.CreateDirectory(Path.Combine(directory, runId));
            await File.WriteAllTextAsync(Path.Combine(directory, relative), EmailRedactor.Redact(content?.ToJsonString() ?? "null"));
            return relative.Replace('\\', '/');
        }
    }

    /// <summary>The row of an event; the run id is filled in by the caller.</summary>
    internal static CsvRunLogRow Row(ProgressEvent progressEvent)
    {
        var row = new CsvRunLogRow { Timestamp = progressEvent.Timestamp.ToString("O", CultureInfo.InvariantCulture), RunId = "", Stage = progressEvent.Kind };
        return progressEvent switch
        {
            RunStarted started => row with { DecisionSummary = $"{started.WorkflowName}: {started.TotalSteps} steps" },
            StepStarted step => row with { Stage = Stage(step.StepId, "started"), DecisionSummary = step.DisplayName },
            StepCompleted { Record: var record } => row with
            {
                Stage = Stage(record.StepId, record.Status == StepStatus.Completed ? "completed" : "failed"),
                Model = (string?)record.Output?["model"],
                PromptTokens = (int?)record.Output?["usage"]?["input_tokens"],
                CompletionTokens = (int?)record.Output?["usage"]?["output_tokens"],
                CostEst = (decimal?)record.Output?["usage"]?["cost_usd"],
                DecisionSummary = $"{record.DisplayName}: {record.Status.ToWire()} after {record.Attempts} attempt(s), {record.DurationMs:0} ms",
                Warning = record.Error?.Message,
            },
            LlmCallCompleted call => row with
            {
                Stage = "llm_call",
                Model = call.Result.Model,
                PromptTokens = call.Result.InputTokens,
                CompletionTokens = call.Result.OutputTokens,
                CostEst = call.Result.CostUsd,
                DecisionSummary = call.StepId + (call.Result.CacheHit ? " (cached)" : ""),
            },
            RunCompleted done => row with { CostEst = done.CostUsd, DecisionSummary = $"complete: {done.TotalTokens} tokens" },
            RunFailed failed => row with
            {
                Stage = "error",
                DecisionSummary = failed.Cancelled ? "cancelled" : $"failed: {failed.Error.Type}" + (failed.Error.StepId is { } at ? $" at {at}" : ""),
                Warning = failed.Error.Message,
            },
            RunWaiting waiting => row with { DecisionSummary = $"waiting at {waiting.Wait.StepId}" },
            _ => row,
        };
    }

    /// <summary><c>section_started</c> for the section steps (document 004's event names), <c>{step}_started</c> for the others.</summary>
    private static string Stage(string stepId, string what) =>
        stepId.StartsWith("section_", StringComparison.Ordinal) ? $"section_{what}" : $"{stepId}_{what}";

    private static CsvRunLogRow Redacted(CsvRunLogRow row) => row with
    {
        DecisionSummary = row.DecisionSummary is { } summary ? EmailRedactor.Redact(summary) : null,
        Warning = row.Warning is { } warning ? EmailRedactor.Redact(warning) : null,
    };
}
