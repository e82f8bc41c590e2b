using System.Text.Json.Nodes;
using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>A checkpoint read back, by a run that resumes (after a wait, a hand-back or a crash) or a fork's run.</summary>
public sealed partial class JobLifecycleStore
{
    private const string CheckpointSql = """
        SELECT output, step_id, display_name, step_type, status, attempts, started_at, finished_at, duration_ms,
               parent_step_id, branch, provider, model, input_tokens, output_tokens, cost_usd, reused_from_job_id
          FROM llm_job_steps
         WHERE job_id = $1 AND step_key = $2 AND is_checkpoint
         ORDER BY job_attempt DESC
         LIMIT 1
        """;

    /// <summary>The newest checkpoint of a step from any earlier attempt of the job.</summary>
    internal async Task<(JsonNode? Output, StepRecordRow Row)?> TryGetCheckpointAsync(Guid jobId, string stepKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = stepKey });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var output = reader.FieldOrNull<string>("output") is { } text ? JsonNode.Parse(text) : null;
        var row = new StepRecordRow(
            reader.Field<string>("step_id"), reader.Field<string>("display_name"), reader.Field<string>("step_type"),
            reader.Field<string>("status"), reader.Field<int>("attempts"), reader.Field<DateTimeOffset>("started_at"),
            reader.FieldOrNull<DateTimeOffset?>("finished_at"), reader.FieldOrNull<int?>("duration_ms") ?? 0,
            reader.FieldOrNull<string>("parent_step_id"), reader.FieldOrNull<string>("branch"),
            reader.FieldOrNull<string>("provider"), reader.FieldOrNull<string>("model"),
            reader.Field<int>("input_tokens"), reader.Field<int>("output_tokens"), reader.FieldOrNull<decimal?>("cost_usd"))
        {
            ReusedFromJobId = reader.FieldOrNull<Guid?>("reused_from_job_id"),
        };
        return (output, row);
    }
}
