using LlmWorkflow.Storage.Jobs;
using Npgsql;

namespace LlmWorkflow.Api.Jobs;

/// <summary>A deleted job's tombstone (<c>llm_deleted_jobs</c>), kept for the retention period.</summary>
public sealed record DeletedJob(Guid JobId, string TenantId, string? UserId, string WorkflowName, DateTimeOffset DeletedAt);

/// <summary>Reads tombstones; <see cref="JobCommands.DeleteAsync"/> writes them and retention purges them.</summary>
public sealed class DeletedJobs(NpgsqlDataSource dataSource)
{
    // $1 job id.
    private const string FindSql = "SELECT tenant_id, user_id, workflow_name, deleted_at FROM llm_deleted_jobs WHERE job_id = $1";

    public async Task<DeletedJob?> FindAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FindSql);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DeletedJob(jobId, reader.Field<string>("tenant_id"), reader.FieldOrNull<string>("user_id"), reader.Field<string>("workflow_name"),
                reader.Field<DateTimeOffset>("deleted_at"))
            : null;
    }
}
