using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Display;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Cli.Remote;

/// <summary>Reads the parts of a <c>GET /api/v1/status/{id}</c> answer (the shared <see cref="JobStatusResponse"/>) that the CLI shows.</summary>
internal static class JobStatusView
{
    public static readonly IReadOnlySet<string> TerminalStatuses = new HashSet<string>(StringComparer.Ordinal) { "completed", "failed", "cancelled" };

    public static string Status(JobStatusResponse status) => string.IsNullOrEmpty(status.Status) ? "unknown" : status.Status;

    public static string? Error(JobStatusResponse status) => (string?)status.Error?["message"] ?? status.ErrorMessage;

    public static List<StepCostRow> CostRows(JobStatusResponse status) =>
    [
        .. status.Steps.Select(step => new StepCostRow(
            step.StepKey ?? step.StepId ?? "?",
            step.DisplayName ?? "?",
            step.Type ?? "?",
            step.Status ?? "?",
            step.Model,
            step.InputTokens,
            step.OutputTokens,
            step.CostUsd,
            step.DurationMs)),
    ];

    /// <summary>result.cost_data.models of a completed job (a dynamic part of the record); empty for older services that do not send it.</summary>
    public static List<ModelCost> ModelCosts(JobStatusResponse status) =>
    [
        .. (status.Result?["cost_data"]?["models"] as JsonArray ?? []).OfType<JsonObject>().Select(model => new ModelCost
        {
            Provider = (string?)model["provider"] ?? "?",
            Model = (string?)model["model"] ?? "?",
            Calls = (int?)model["calls"] ?? 0,
            InputTokens = (int?)model["input_tokens"] ?? 0,
            OutputTokens = (int?)model["output_tokens"] ?? 0,
            CostUsd = (decimal?)model["cost_usd"],
            Unpriced = (bool?)model["unpriced"] ?? false,
        }),
    ];

    /// <summary>Prints the output (or error) and the cost table of a finished job; one line of progress for a running one.</summary>
    /// <param name="errorShown">The progress display already printed the job's error (watch).</param>
    public static void Write(CliConsole console, JobStatusResponse status, bool errorShown = false)
    {
        var state = Status(status);
        console.Out.WriteLine($"job {status.JobId}: {status.WorkflowName} {state}");
        if (!TerminalStatuses.Contains(state))
        {
            console.Out.WriteLine($"  {status.Progress?.Percent ?? 0}% {status.Progress?.CurrentStepName ?? "waiting for a worker"}");
            return;
        }

        ResultView.Write(console, state, status.Result?["output"], state == "completed" ? null : Error(status) ?? state, CostRows(status), ModelCosts(status), errorShown);
    }

    public static int ExitCode(JobStatusResponse status) => Status(status) == "completed" ? ExitCodes.Success : ExitCodes.Failure;
}
