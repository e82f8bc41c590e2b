using System.Text.Json;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Storage.Jobs;
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

    // $1 tenant, $2 user, $3 project id, $4 chat id.
    private const string FindStartedSql =
        $"SELECT {Columns} FROM llm_project_documents WHERE tenant_id = $1 AND user_id = $2 AND project_id = $3 AND chat_id = $4";

    // $1 run id, $2 tenant, $3 user, $4 project id, $5 chat id, $6 meta (jsonb).
    private const string InsertSql = $"""
        INSERT INTO llm_project_documents ({Columns}) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (tenant_id, user_id, project_id, chat_id) DO NOTHING
        """;

    // $1 project id, $2 tenant (NULL: every tenant), $3 user (NULL: any user).
    private const string LatestSql = $"""
        SELECT {Columns} FROM llm_project_documents
        WHERE project_id = $1 AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR user_id = $3)
        ORDER BY created_at DESC, run_id DESC LIMIT 1
        """;

    public async Task<ProjectRun?> FindStartedAsync(string tenantId, string userId, string projectId, string chatId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FindStartedSql);
        Add(command, tenantId, userId, projectId, chatId);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Records the run unless the same start is already recorded (a concurrent start won).</summary>
    public async Task InsertAsync(ProjectRun run, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(InsertSql);
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

        await using var command = dataSource.CreateCommand(LatestSql);
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
            reader.Field<Guid>("run_id"), reader.Field<string>("tenant_id"), reader.Field<string>("user_id"), reader.Field<string>("project_id"),
            reader.Field<string>("chat_id"), JsonSerializer.Deserialize<ProjectMeta>(reader.Field<string>("meta"), MetaJson)!);
    }
}
