using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
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
/// </remarks>
internal sealed class PostgresChildCheckpoints(NpgsqlDataSource dataSource, Guid jobId, string callKey) : ICheckpointStore
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
        await using var command = dataSource.CreateCommand(SaveSql);
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
        await command.ExecuteNonQueryAsync(CancellationToken.None);
        (await _saved.Value).TryAdd(checkpoint.StepKey, checkpoint);
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
