using System.Text.Json.Nodes;
using LlmWorkflow.Cli.Display;
using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Cli.Remote;

/// <summary>Reads the parts of a <c>GET /api/v1/status/{id}</c> answer that the CLI shows.</summary>
internal static class JobStatusView
{
    public static readonly IReadOnlySet<string> TerminalStatuses = new HashSet<string>(StringComparer.Ordinal) { "completed", "failed", "cancelled" };

    public static string Status(JsonObject status) => (string?)status["status"] ?? "unknown";

    public static string? Error(JsonObject status) => (string?)status["error"]?["message"] ?? (string?)status["error_message"];

    public static List<StepCostRow> CostRows(JsonObject status) =>
    [
        .. (status["steps"] as JsonArray ?? []).OfType<JsonObject>().Select(step => new StepCostRow(
            (string?)step["step_key"] ?? (string?)step["step_id"] ?? "?",
            (string?)step["display_name"] ?? "?",
            (string?)step["type"] ?? "?",
            (string?)step["status"] ?? "?",
            (string?)step["model"],
            (int?)step["input_tokens"],
            (int?)step["output_tokens"],
            (decimal?)step["cost_usd"],
            (double?)step["duration_ms"])),
    ];

    /// <summary>result.cost_data.models of a completed job; empty for older services that do not send it.</summary>
    public static List<ModelCost> ModelCosts(JsonObject status) =>
    [
        .. (status["result"]?["cost_data"]?["models"] as JsonArray ?? []).OfType<JsonObject>().Select(model => new ModelCost
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
    public static void Write(CliConsole console, JsonObject status, bool errorShown = false)
    {
        var state = Status(status);
        console.Out.WriteLine($"job {(string?)status["job_id"]}: {(string?)status["workflow_name"]} {state}");
        if (!TerminalStatuses.Contains(state))
        {
            var progress = status["progress"];
            console.Out.WriteLine($"  {(int?)progress?["percent"] ?? 0}% {(string?)progress?["current_step_name"] ?? "waiting for a worker"}");
            return;
        }

        ResultView.Write(console, state, status["result"]?["output"], state == "completed" ? null : Error(status) ?? state, CostRows(status), ModelCosts(status), errorShown);
    }

    public static int ExitCode(JsonObject status) => Status(status) == "completed" ? ExitCodes.Success : ExitCodes.Failure;
}
