using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Agents;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using LlmWorkflow.Storage.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Agents;

/// <summary>
/// The agent step's state in PostgreSQL (migration <c>20261129010000_AgentState</c>): <c>llm_agent_messages</c> (each
/// message once per job, by SHA-256 of its canonical JSON), <c>llm_agent_turns</c> (a paid turn: usage, the answer's
/// address and the addresses it added to the turn before) and <c>llm_agent_tool_calls</c> (the tool ledger); the
/// checkpoints of workflow tools' child runs in <c>llm_agent_child_steps</c> (<see cref="PostgresChildCheckpoints"/>).
/// </summary>
public sealed class PostgresAgentStore(NpgsqlDataSource dataSource) : IAgentStore
{
    /// <summary>A turn's usage row is written in the turn's own statement (so a turn paid just before a crash keeps it).</summary>
    public bool WritesUsageRows => true;

    // $1 job, $2 step key.
    private const string TurnsSql = """
        SELECT turn, base_turn, added_hashes, response_hash, provider, model, input_tokens, output_tokens, cost_usd, duration_ms
          FROM llm_agent_turns WHERE job_id = $1 AND step_key = $2 ORDER BY turn
        """;

    // $1 job, $2 step key.
    private const string ToolCallsSql = """
        SELECT turn, call_id, tool_name, idempotency_key, arguments::text, call_status, result_hash, attempts
          FROM llm_agent_tool_calls WHERE job_id = $1 AND step_key = $2 ORDER BY turn, created_at
        """;

    // $1 job, $2 step key: the messages this step's turns and ledger name.
    private const string MessagesSql = """
        SELECT m.hash, m.content FROM llm_agent_messages m
         WHERE m.job_id = $1 AND m.hash IN (
               SELECT unnest(added_hashes || response_hash::text) FROM llm_agent_turns WHERE job_id = $1 AND step_key = $2
               UNION SELECT result_hash FROM llm_agent_tool_calls WHERE job_id = $1 AND step_key = $2 AND result_hash IS NOT NULL)
        """;

    // $1 job, $2 step key, $3 turn, $4 base turn, $5 added, $6 response, $7 provider, $8 model, $9 in, $10 out, $11 cost, $12 ms,
    // $13 new messages' hashes, $14 their contents: the messages and the turn in one statement (the turn never names a
    // message that is not there).
    private const string AddedMessagesCte = """
        added AS (
            INSERT INTO llm_agent_messages (job_id, hash, content)
            SELECT $1, h, c FROM unnest($13::text[], $14::text[]) AS m(h, c)
            ON CONFLICT (job_id, hash) DO NOTHING)
        """;

    private const string TurnRowSql = """
        INSERT INTO llm_agent_turns (job_id, step_key, turn, base_turn, added_hashes, response_hash, provider, model, input_tokens, output_tokens, cost_usd, duration_ms)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (job_id, step_key, turn) DO NOTHING
        """;

    private const string InsertTurnSql = "WITH " + AddedMessagesCte + "\n" + TurnRowSql;

    // The same with the turn's usage row, written only when the turn row is new (a write retried after an unacknowledged
    // commit adds none): $15 usage id, $16 provider, $17 model, $18 total tokens, $19 cost, $20 duration (ms), $21 metadata.
    private const string InsertTurnWithUsageSql = "WITH " + AddedMessagesCte + ", turn AS (\n" + TurnRowSql + "\nRETURNING 1)\n" + """
        INSERT INTO llm_provider_usage (id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
        SELECT $15, $1, $16, $17, $9, $10, $18, $19, $20, $21::jsonb WHERE EXISTS (SELECT 1 FROM turn)
        ON CONFLICT (id) DO NOTHING
        """;

    // $1 job, $2 step key, $3 turn, $4 call id, $5 tool, $6 key, $7 arguments. An unfinished row counts another attempt.
    private const string BeginToolSql = """
        INSERT INTO llm_agent_tool_calls AS t (job_id, step_key, turn, call_id, tool_name, idempotency_key, arguments, call_status)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'started')
        ON CONFLICT (job_id, step_key, turn, call_id) DO UPDATE
           SET attempts = t.attempts + CASE WHEN t.call_status IN ('started', 'approved') THEN 1 ELSE 0 END, updated_at = now()
        RETURNING tool_name, idempotency_key, arguments::text, call_status, result_hash, attempts
        """;

    // $1 job, $2 step key, $3 turn, $4 call id, $5 status, $6 result hash, $7 result message: one statement stores the
    // result message and marks the row (a data-modifying CTE always runs, referenced or not).
    private const string FinishToolSql = """
        WITH result AS (
            INSERT INTO llm_agent_messages (job_id, hash, content) VALUES ($1, $6, $7) ON CONFLICT (job_id, hash) DO NOTHING)
        UPDATE llm_agent_tool_calls SET call_status = $5, result_hash = $6, updated_at = now()
         WHERE job_id = $1 AND step_key = $2 AND turn = $3 AND call_id = $4
        """;

    // $1 job, $2 step key, $3 turn, $4 call id, $5 status, $6 arguments.
    private const string SetStatusSql = """
        UPDATE llm_agent_tool_calls SET call_status = $5, arguments = $6::jsonb, updated_at = now()
         WHERE job_id = $1 AND step_key = $2 AND turn = $3 AND call_id = $4
        """;

    public async Task<AgentState> LoadAsync(string runId, string stepKey, CancellationToken cancellationToken)
    {
        var job = Guid.Parse(runId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var turns = new List<AgentTurn>();
        await using (var command = Command(connection, TurnsSql, job, stepKey))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                turns.Add(new AgentTurn(reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.GetFieldValue<string[]>(2), reader.GetString(3),
                    reader.GetString(4), reader.GetString(5), reader.GetInt32(6), reader.GetInt32(7), reader.IsDBNull(8) ? null : reader.GetDecimal(8), reader.GetDouble(9)));
            }
        }

        var calls = new List<AgentToolEntry>();
        await using (var command = Command(connection, ToolCallsSql, job, stepKey))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                calls.Add(new AgentToolEntry(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    JsonNode.Parse(reader.GetString(4))!.AsObject(), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7)));
            }
        }

        var messages = new Dictionary<string, AgentMessage>(StringComparer.Ordinal);
        await using (var command = Command(connection, MessagesSql, job, stepKey))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                messages[reader.GetString(0)] = new AgentMessage(reader.GetString(0), reader.GetString(1));
            }
        }

        return new AgentState(turns, calls, messages);
    }

    public async Task<AgentToolEntry?> SaveTurnAsync(
        string runId, string stepKey, AgentTurn turn, IReadOnlyList<AgentMessage> newMessages, AgentToolEntry? firstCall, CancellationToken cancellationToken)
    {
        var job = Guid.Parse(runId);
        await using var batch = dataSource.CreateBatch();
        // One transaction: the turn, its messages and its usage row are one statement, and its first call's ledger row rides along.
        object[] values =
        [
            job, stepKey, turn.Turn, (object?)turn.BaseTurn ?? DBNull.Value, turn.AddedHashes.ToArray(), turn.ResponseHash, turn.Provider, turn.Model,
            turn.InputTokens, turn.OutputTokens, (object?)turn.CostUsd ?? DBNull.Value, turn.DurationMs,
            newMessages.Select(m => m.Hash).ToArray(), newMessages.Select(m => m.Canonical).ToArray(),
        ];
        if (turn.Usage is { Call: var call } usage)
        {
            values =
            [
                .. values, Guid.CreateVersion7(), AgentUsageRows.Truncate(call.Provider, 50), AgentUsageRows.Truncate(call.Model, 100), call.TotalTokens,
                call.CostUsd ?? 0m, (int)Math.Round(call.DurationMs), Json(AgentUsageRows.Metadata(usage.StepId, usage.WorkflowName, call, turn.Turn)),
            ];
        }

        batch.BatchCommands.Add(BatchCommand(turn.Usage is null ? InsertTurnSql : InsertTurnWithUsageSql, values));
        return await ExecuteBeginningAsync(batch, job, stepKey, firstCall, cancellationToken);
    }

    public async Task<AgentToolEntry> BeginToolCallAsync(string runId, string stepKey, AgentToolEntry entry, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        return (await ExecuteBeginningAsync(batch, Guid.Parse(runId), stepKey, entry, cancellationToken))!;
    }

    public async Task<AgentToolEntry?> FinishToolCallAsync(
        string runId, string stepKey, int turn, string callId, string status, AgentMessage result, AgentToolEntry? nextCall, CancellationToken cancellationToken)
    {
        var job = Guid.Parse(runId);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(BatchCommand(FinishToolSql, job, stepKey, turn, callId, status, result.Hash, result.Canonical));
        return await ExecuteBeginningAsync(batch, job, stepKey, nextCall, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="batch"/> (one round trip, one transaction) with the ledger row of <paramref name="call"/>
    /// begun first in it, and returns that row as the database has it; without a call, just runs the batch.
    /// </summary>
    private static async Task<AgentToolEntry?> ExecuteBeginningAsync(NpgsqlBatch batch, Guid job, string stepKey, AgentToolEntry? call, CancellationToken cancellationToken)
    {
        if (call is null)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }

        batch.BatchCommands.Insert(0, BatchCommand(BeginToolSql, job, stepKey, call.Turn, call.CallId, call.ToolName, call.IdempotencyKey, Json(call.Arguments.ToJsonString())));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var begun = call with
        {
            ToolName = reader.GetString(0),
            IdempotencyKey = reader.GetString(1),
            Arguments = JsonNode.Parse(reader.GetString(2))!.AsObject(),
            Status = reader.GetString(3),
            ResultHash = reader.IsDBNull(4) ? null : reader.GetString(4),
            Attempts = reader.GetInt32(5),
        };
        // The statements after the first run as the reader moves on: their errors surface here, not lost.
        while (await reader.NextResultAsync(cancellationToken))
        {
        }

        return begun;
    }

    public async Task SetToolCallStatusAsync(string runId, string stepKey, int turn, string callId, string status, JsonObject arguments, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SetStatusSql);
        AddParameters(command.Parameters, Guid.Parse(runId), stepKey, turn, callId, status, Json(arguments.ToJsonString()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public ICheckpointStore ChildCheckpoints(string runId, string callKey, string stepId, string workflowName) =>
        new PostgresChildCheckpoints(dataSource, Guid.Parse(runId), callKey, stepId, workflowName);

    private static NpgsqlParameter Json(string text) => new() { Value = text, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params object[] values)
    {
        var command = new NpgsqlCommand(sql, connection);
        AddParameters(command.Parameters, values);
        return command;
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        AddParameters(command.Parameters, values);
        return command;
    }

    private static void AddParameters(NpgsqlParameterCollection parameters, params object[] values)
    {
        foreach (var value in values)
        {
            parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        }
    }
}

/// <summary>
/// The <c>llm_provider_usage</c> rows the agent store writes itself (a turn's, with the turn; a workflow tool's child
/// call's, with its child step's checkpoint): a job's own usage metadata (<c>JobLifecycleStore.UsageMetadata</c>), with
/// the agent turn the call paid for.
/// </summary>
internal static class AgentUsageRows
{
    /// <param name="turn">The agent turn the call paid for (<c>agent_turn</c>); null for a child's call.</param>
    public static JsonObject MetadataObject(string stepId, string? workflowName, LlmCallResult call, int? turn = null)
    {
        var metadata = JobLifecycleStore.UsageMetadata(stepId, workflowName, call);
        if (turn is { } number)
        {
            metadata["agent_turn"] = number;
        }

        return metadata;
    }

    public static string Metadata(string stepId, string? workflowName, LlmCallResult call, int? turn = null) =>
        StorableJson.Clean(MetadataObject(stepId, workflowName, call, turn))!.ToJsonString();

    public static string Truncate(string value, int max) => JobLifecycleStore.Truncate(value, max);
}
