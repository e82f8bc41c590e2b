using System.Globalization;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using Npgsql;

namespace LlmWorkflow.Api.Agents;

/// <summary>
/// Reads an agent step's loop for the job page: its paid turns (usage and cost from <c>llm_agent_turns</c>, the answer
/// from <c>llm_agent_messages</c>) and each turn's tool calls from the ledger (<c>llm_agent_tool_calls</c>), with the
/// approval decision the call took from the job's inbox (the signal claimed as <c>{step_key}#{turn}/{call_id}</c>).
/// Read-only: two statements on one connection, only the rows of the one step.
/// </summary>
public sealed class AgentTurnsReader(NpgsqlDataSource dataSource)
{
    /// <summary>The most of a tool's result the summary carries; the ledger keeps it whole.</summary>
    public const int MaxSummaryChars = 280;

    // $1 job, $2 step key.
    private const string TurnsSql = """
        SELECT t.turn, t.provider, t.model, t.input_tokens, t.output_tokens, t.cost_usd, t.duration_ms, t.created_at, m.content
          FROM llm_agent_turns t
          LEFT JOIN llm_agent_messages m ON m.job_id = t.job_id AND m.hash = t.response_hash
         WHERE t.job_id = $1 AND t.step_key = $2
         ORDER BY t.turn
        """;

    // $1 job, $2 step key. The decision is the signal the call claimed (AgentApproval's claim key), a rerun's superseded ones aside.
    private const string ToolCallsSql = """
        SELECT c.turn, c.call_id, c.tool_name, c.arguments::text, c.call_status, c.attempts, r.content, s.payload::text, s.taken_at
          FROM llm_agent_tool_calls c
          LEFT JOIN llm_agent_messages r ON r.job_id = c.job_id AND r.hash = c.result_hash
          LEFT JOIN LATERAL (
                SELECT g.payload, g.taken_at FROM llm_job_signals g
                 WHERE g.job_id = c.job_id AND g.taken_by_step = c.step_key || '#' || c.turn || '/' || c.call_id AND g.superseded_at IS NULL
                 ORDER BY g.taken_at DESC LIMIT 1) s ON true
         WHERE c.job_id = $1 AND c.step_key = $2
         ORDER BY c.turn, c.created_at
        """;

    public async Task<AgentTurnsResponse> ReadAsync(Guid jobId, string stepKey, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var calls = await ReadToolCallsAsync(connection, jobId, stepKey, cancellationToken);
        var turns = new List<AgentTurnView>();
        await using (var command = Command(connection, TurnsSql, jobId, stepKey))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var turn = reader.GetInt32(0);
                var answer = reader.IsDBNull(8) ? null : new AgentMessage("", reader.GetString(8));
                var asked = answer?.Calls() ?? [];
                var ledger = calls.GetValueOrDefault(turn) ?? [];
                turns.Add(new AgentTurnView(turn, reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4),
                    reader.IsDBNull(5) ? null : reader.GetDecimal(5), Math.Round(reader.GetDouble(6), 1), reader.GetFieldValue<DateTimeOffset>(7),
                    asked.Count > 0 ? "tool_calls" : "stop", answer?.Text, ToolCalls(asked, ledger)));
            }
        }

        return new AgentTurnsResponse(jobId, stepKey, turns.Count, turns.Sum(t => t.InputTokens), turns.Sum(t => t.OutputTokens),
            turns.Any(t => t.CostUsd is null) ? null : turns.Sum(t => t.CostUsd ?? 0m), turns);
    }

    /// <summary>The calls the turn's answer asked for, in its order, each with its ledger row (not started when it has none yet).</summary>
    private static List<AgentToolCallView> ToolCalls(IReadOnlyList<AgentToolCall> asked, List<AgentToolCallView> ledger)
    {
        var shown = asked.Select(call => ledger.Find(l => l.CallId == call.CallId)
            ?? new AgentToolCallView(call.CallId, call.Name, call.Arguments, "not_started", 0, null, null, null)).ToList();
        shown.AddRange(ledger.Where(l => asked.All(a => a.CallId != l.CallId)));
        return shown;
    }

    private static async Task<Dictionary<int, List<AgentToolCallView>>> ReadToolCallsAsync(
        NpgsqlConnection connection, Guid jobId, string stepKey, CancellationToken cancellationToken)
    {
        var calls = new Dictionary<int, List<AgentToolCallView>>();
        await using var command = Command(connection, ToolCallsSql, jobId, stepKey);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var status = reader.GetString(4);
            var result = reader.IsDBNull(6) ? null : ResultText(reader.GetString(6));
            var approval = Approval(status, reader.IsDBNull(7) ? null : JsonNode.Parse(reader.GetString(7)),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));
            var view = new AgentToolCallView(reader.GetString(1), reader.GetString(2), JsonNode.Parse(reader.GetString(3)) as JsonObject ?? [], status,
                reader.GetInt32(5), Summary(result), result?.Length, approval);
            var turn = reader.GetInt32(0);
            (calls.TryGetValue(turn, out var list) ? list : calls[turn] = []).Add(view);
        }

        return calls;
    }

    /// <summary>
    /// What a person decided on the call: the claimed signal's decision, <c>pending</c> while the call waits for one, and
    /// <c>expired</c> for a call rejected with no signal (its approval timed out); null for a call that needed none.
    /// </summary>
    internal static AgentApprovalView? Approval(string status, JsonNode? payload, DateTimeOffset? takenAt)
    {
        if (payload is JsonObject body)
        {
            // The decision as the approval wait reads it (ApprovalStepHandler.Decision): a boolean approved, or decision "approve".
            var approved = body["approved"] is JsonValue flag && flag.TryGetValue<bool>(out var yes)
                ? yes
                : body["decision"] is JsonValue word && word.TryGetValue<string>(out var said) && said is "approve" or "approved";
            return new AgentApprovalView(approved ? "approved" : "rejected", Text(body["comment"]), Text(body["decided_by"]) is "link" or "dashboard" ? Text(body["decided_by"]) : "api",
                Text(body["decided_at"]) ?? takenAt?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture), approved && body["arguments"] is JsonObject);
        }

        return status switch
        {
            AgentToolEntry.AwaitingApproval => new AgentApprovalView("pending", null, null, null, false),
            AgentToolEntry.Rejected => new AgentApprovalView("expired", null, null, null, false),
            _ => null,
        };
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>The tool's result as text: the canonical result message's <c>results[0].result</c>.</summary>
    private static string? ResultText(string canonical) =>
        JsonNode.Parse(canonical)?["results"] is JsonArray { Count: > 0 } results ? (string?)results[0]?["result"] : null;

    internal static string? Summary(string? result) =>
        result is null || result.Length <= MaxSummaryChars ? result : string.Concat(result.AsSpan(0, MaxSummaryChars), " …");

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, Guid jobId, string stepKey) =>
        new(sql, connection) { Parameters = { new() { Value = jobId }, new() { Value = stepKey } } };
}

/// <summary>An agent step's loop: its turns in order, with totals over them (cost null when a turn's model is unpriced).</summary>
public sealed record AgentTurnsResponse(
    Guid JobId, string StepKey, int TurnCount, int InputTokens, int OutputTokens, decimal? CostUsd, IReadOnlyList<AgentTurnView> Turns);

/// <summary>
/// One paid model turn, numbered from 0 like the loop's live events. <c>finish_reason</c> is read from the answer: <c>tool_calls</c> when it asked for tools, else
/// <c>stop</c> (the loop's last turn, or one a cap ended after). <c>text</c> is the model's text, untrusted.
/// </summary>
public sealed record AgentTurnView(
    int Turn, string Provider, string Model, int InputTokens, int OutputTokens, decimal? CostUsd, double DurationMs, DateTimeOffset RecordedAt,
    string FinishReason, string? Text, IReadOnlyList<AgentToolCallView> ToolCalls);

/// <summary>
/// A tool call of a turn: status from the ledger (started, awaiting_approval, approved, finished, failed, rejected;
/// not_started when the loop has not reached it), the arguments it ran with (a person's edit included), the result's
/// first 280 characters and its length.
/// </summary>
public sealed record AgentToolCallView(
    string CallId, string Tool, JsonObject Arguments, string Status, int Attempts, string? ResultSummary, int? ResultChars, AgentApprovalView? Approval);

/// <summary>A person's decision on a call: approved, rejected, pending or expired; <c>arguments_edited</c> when the approval replaced them.</summary>
public sealed record AgentApprovalView(string Decision, string? Comment, string? DecidedBy, string? DecidedAt, bool ArgumentsEdited);
