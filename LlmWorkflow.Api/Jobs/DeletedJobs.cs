using Npgsql;

namespace LlmWorkflow.Api.Jobs;

/// <summary>A deleted job's tombstone (<c>llm_deleted_jobs</c>), kept for the retention period.</summary>
public sealed record DeletedJob(Guid JobId, string TenantId, string? UserId, string WorkflowName, DateTimeOffset DeletedAt);

/// <summary>Reads tombstones; <see cref="JobCommands.DeleteAsync"/> writes them and retention purges them.</summary>
public sealed class DeletedJobs(NpgsqlDataSource dataSource)
{
    public async Task<DeletedJob?> FindAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT tenant_id, user_id, workflow_name, deleted_at FROM llm_deleted_jobs WHERE job_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DeletedJob(jobId, reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3))
            : null;
    }
}
