using System.Text.Json;
using LlmWorkflow.Api.Auth;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Api.Generator;

/// <summary>A run a (project_id, chat_id) started: its job id and the project's meta as the start gave it.</summary>
internal sealed record ProjectRun(Guid RunId, string TenantId, string UserId, string ProjectId, string ChatId, ProjectMeta Meta);

/// <summary>
/// <c>llm_project_documents</c>: which run a tenant's (project_id, chat_id) started, and the project's meta. One row per
/// start; the (tenant, user, project_id, chat_id) key makes a repeated start find the first run.
/// </summary>
internal sealed class ProjectRunStore(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions MetaJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private const string Columns = "run_id, tenant_id, user_id, project_id, chat_id, meta";

    public async Task<ProjectRun?> FindStartedAsync(string tenantId, string userId, string projectId, string chatId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {Columns} FROM llm_project_documents WHERE tenant_id = $1 AND user_id = $2 AND project_id = $3 AND chat_id = $4");
        Add(command, tenantId, userId, projectId, chatId);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Records the run unless the same start is already recorded (a concurrent start won).</summary>
    public async Task InsertAsync(ProjectRun run, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO llm_project_documents ({Columns}) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (tenant_id, user_id, project_id, chat_id) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = run.RunId });
        Add(command, run.TenantId, run.UserId, run.ProjectId, run.ChatId);
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(run.Meta, MetaJson), NpgsqlDbType = NpgsqlDbType.Jsonb });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The newest run of <paramref name="projectId"/> the caller may see (its tenant; its user when one is named).</summary>
    public async Task<ProjectRun?> LatestAsync(CallerScope scope, string projectId, CancellationToken cancellationToken)
    {
        if (scope.Contradictory)
        {
            return null;
        }

        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM llm_project_documents
            WHERE project_id = $1 AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR user_id = $3)
            ORDER BY created_at DESC, run_id DESC LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = projectId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)scope.TenantFilter ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)(scope.IsAdmin ? null : scope.UserId) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadOneAsync(command, cancellationToken);
    }

    private static void Add(NpgsqlCommand command, params string[] values)
    {
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
    }

    private static async Task<ProjectRun?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ProjectRun(
            reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            JsonSerializer.Deserialize<ProjectMeta>(reader.GetString(5), MetaJson)!);
    }
}
