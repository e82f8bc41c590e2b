using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Llm;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Agents;

/// <summary>
/// The checkpoints of one <c>workflow</c> tool call's child run in <c>llm_agent_child_steps</c> (migration
/// <c>20261129102000_AgentChildSteps</c>), keyed by the job and the call's idempotency key: the engine's runner saves
/// each finished child step here and, when the call runs again after a crash, restores it instead of running it.
/// </summary>
/// <remarks>
/// The call's rows are read in one query at the child's first step (a fresh call has none; a resumed one restores them
/// all), not one query per step. The run id the runner passes is the child's, derived from the same call key: the scope
/// is this store's own.
/// <para>
/// It is also the child run's progress sink, for one event: a child LLM call's <c>llm_call_completed</c>. Its usage row
/// (<c>llm_provider_usage</c>, under the job and the agent step, <c>metadata.child_step_id</c> naming the child's step)
/// is written in the same statement as that step's checkpoint, and only when the checkpoint row is new. So each paid
/// call has one row: a crash before the checkpoint's commit loses both (the step runs again, and its new call gets its
/// row with the new checkpoint), a crash after it keeps both (the resumed child restores the step and publishes no call
/// for it, so no second row). A call whose step keeps no checkpoint (it failed) gets its row when the child run ends;
/// if the worker dies before that, the step runs again and that paid call gets its row then. The child's other events
/// go nowhere: its steps are not the job's steps.
/// </para>
/// </remarks>
internal sealed class PostgresChildCheckpoints(NpgsqlDataSource dataSource, Guid jobId, string callKey, string stepId, string workflowName)
    : ICheckpointStore, IProgressSink
{
    // $1 job, $2 call key.
    private const string LoadSql = """
        SELECT step_key, output::text, step_id, display_name, step_type, status, attempts, started_at, finished_at, duration_ms,
               parent_step_id, branch, provider, model, input_tokens, output_tokens, cost_usd
          FROM llm_agent_child_steps WHERE job_id = $1 AND call_key = $2
        """;

    // The first save of a step wins: it is the one that was paid for.
    private const string SaveSql = """
        INSERT INTO llm_agent_child_steps (job_id, call_key, step_key, step_id, display_name, step_type, status, attempts,
                                           started_at, finished_at, duration_ms, parent_step_id, branch, provider, model,
                                           input_tokens, output_tokens, cost_usd, output)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
        ON CONFLICT (job_id, call_key, step_key) DO NOTHING
        """;

    // The step's usage rows ride on the checkpoint's insert: written only when it inserted (one statement, one commit).
    // $20.. one array per column: ids, providers, models, input, output, total tokens, costs, durations (ms), metadata.
    private const string SaveWithUsageSql = "WITH saved AS (" + SaveSql + " RETURNING 1)\n" + """
        INSERT INTO llm_provider_usage (id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
        SELECT u.id, $1, u.provider, u.model, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd, u.duration_ms, u.metadata
          FROM unnest($20::uuid[], $21::text[], $22::text[], $23::int[], $24::int[], $25::int[], $26::numeric[], $27::int[], $28::jsonb[])
               AS u(id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
         WHERE EXISTS (SELECT 1 FROM saved)
        ON CONFLICT (id) DO NOTHING
        """;

    // The usage of calls whose step kept no checkpoint, at the child's end: $1 job, then the arrays as above from $2.
    private const string UsageSql = """
        INSERT INTO llm_provider_usage (id, job_id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
        SELECT u.id, $1, u.provider, u.model, u.input_tokens, u.output_tokens, u.total_tokens, u.cost_usd, u.duration_ms, u.metadata
          FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::numeric[], $9::int[], $10::jsonb[])
               AS u(id, provider, model, input_tokens, output_tokens, total_tokens, cost_usd, duration_ms, metadata)
        ON CONFLICT (id) DO NOTHING
        """;

    // Paid calls not written yet, by the child step key they were paid in; each with the row id chosen when it was paid.
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(Guid Id, LlmCallCompleted Call)>> _unwritten = new(StringComparer.Ordinal);

    // Parallel branches of the child ask at once: one query for all of them. Not cancellable (one short read); a failed
    // read fails this attempt's child, and the call's next attempt gets a store of its own.
    private readonly Lazy<Task<ConcurrentDictionary<string, StepCheckpoint>>> _saved = new(() => LoadAsync(dataSource, jobId, callKey));

    public async ValueTask<StepCheckpoint?> TryGetAsync(string runId, string stepKey, CancellationToken cancellationToken) =>
        (await _saved.Value.WaitAsync(cancellationToken)).GetValueOrDefault(stepKey);

    /// <remarks>Not cancellable: a child step that was paid for is stored even when the run is being stopped.</remarks>
    public async ValueTask SaveAsync(string runId, StepCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        var record = checkpoint.Record;
        var output = StorableJson.Clean(checkpoint.Output);
        var usage = TakeUnwritten(checkpoint.StepKey);
        await using var command = dataSource.CreateCommand(usage.Count > 0 ? SaveWithUsageSql : SaveSql);
        object?[] values =
        [
            jobId, callKey, checkpoint.StepKey, record.StepId, record.DisplayName, record.Type, record.Status.ToWire(), record.Attempts,
            record.StartedAt.ToUniversalTime(), record.FinishedAt.ToUniversalTime(), record.DurationMs, record.ParentStepId, record.Branch, record.Provider, record.Model,
            record.InputTokens, record.OutputTokens, record.CostUsd,
        ];
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        command.Parameters.Add(new NpgsqlParameter { Value = (object?)output?.ToJsonString() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        if (usage.Count > 0)
        {
            AddUsageArrays(command, usage);
        }

        await command.ExecuteNonQueryAsync(CancellationToken.None);
        (await _saved.Value).TryAdd(checkpoint.StepKey, checkpoint);
    }

    /// <summary>Keeps a child call's usage for its step's checkpoint; at the child's end, writes what no checkpoint took.</summary>
    public ValueTask PublishAsync(ProgressEvent progressEvent, CancellationToken cancellationToken)
    {
        switch (progressEvent)
        {
            case LlmCallCompleted call:
                _unwritten.GetOrAdd(call.StepKey ?? call.StepId, _ => new()).Enqueue((Guid.CreateVersion7(), call));
                return default;
            case RunCompleted or RunFailed:
                return new(WriteUnrecordedUsageAsync());
            default:
                return default;
        }
    }

    private List<(Guid Id, LlmCallCompleted Call)> TakeUnwritten(string stepKey) =>
        _unwritten.TryRemove(stepKey, out var calls) ? [.. calls] : [];

    /// <remarks>Not cancellable, like a checkpoint: these calls were paid for.</remarks>
    private async Task WriteUnrecordedUsageAsync()
    {
        var usage = _unwritten.Keys.ToList().SelectMany(TakeUnwritten).ToList();
        if (usage.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(UsageSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        AddUsageArrays(command, usage);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>The usage rows as one array per column, in <c>llm_provider_usage</c>'s order (ids, provider, model, tokens, cost, duration, metadata).</summary>
    private void AddUsageArrays(NpgsqlCommand command, List<(Guid Id, LlmCallCompleted Call)> usage)
    {
        LlmCallResult[] calls = [.. usage.Select(u => u.Call.Result)];
        command.Parameters.Add(new NpgsqlParameter { Value = usage.Select(u => u.Id).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => AgentUsageRows.Truncate(c.Provider, 50)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => AgentUsageRows.Truncate(c.Model, 100)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => c.InputTokens).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => c.OutputTokens).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => c.TotalTokens).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => c.CostUsd ?? 0m).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
        command.Parameters.Add(new NpgsqlParameter { Value = calls.Select(c => (int)Math.Round(c.DurationMs)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = usage.Select(u => Metadata(u.Call)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
    }

    /// <summary>A job's usage row metadata (<see cref="AgentUsageRows"/>), under the agent step, plus the child step and the tool call.</summary>
    private string Metadata(LlmCallCompleted completed)
    {
        var metadata = AgentUsageRows.MetadataObject(stepId, workflowName, completed.Result);
        metadata["child_step_id"] = completed.StepId;
        metadata["tool_call_key"] = callKey;
        return StorableJson.Clean(metadata)!.ToJsonString();
    }

    private static async Task<ConcurrentDictionary<string, StepCheckpoint>> LoadAsync(NpgsqlDataSource dataSource, Guid jobId, string callKey)
    {
        var saved = new ConcurrentDictionary<string, StepCheckpoint>(StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand(LoadSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = callKey });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var stepKey = reader.GetString(0);
            var status = reader.GetString(5);
            var output = reader.IsDBNull(1) ? null : JsonNode.Parse(reader.GetString(1));
            var record = new StepRecord
            {
                StepKey = stepKey,
                StepId = reader.GetString(2),
                DisplayName = reader.GetString(3),
                Type = reader.GetString(4),
                Status = Enum.GetValues<StepStatus>().First(s => s.ToWire() == status),
                Attempts = reader.GetInt32(6),
                StartedAt = reader.GetFieldValue<DateTimeOffset>(7),
                FinishedAt = reader.GetFieldValue<DateTimeOffset>(8),
                DurationMs = reader.GetDouble(9),
                ParentStepId = reader.IsDBNull(10) ? null : reader.GetString(10),
                Branch = reader.IsDBNull(11) ? null : reader.GetString(11),
                Provider = reader.IsDBNull(12) ? null : reader.GetString(12),
                Model = reader.IsDBNull(13) ? null : reader.GetString(13),
                InputTokens = reader.IsDBNull(14) ? null : reader.GetInt32(14),
                OutputTokens = reader.IsDBNull(15) ? null : reader.GetInt32(15),
                CostUsd = reader.IsDBNull(16) ? null : reader.GetDecimal(16),
                Output = StepOutputCap.Apply(output),
                FromCheckpoint = true,
            };
            saved[stepKey] = new StepCheckpoint(stepKey, output, record);
        }

        return saved;
    }
}
