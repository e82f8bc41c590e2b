using System.Collections.Concurrent;
using LlmWorkflow.Engine.Llm.Admission;
using Npgsql;

namespace LlmWorkflow.Storage.Admission;

/// <summary>
/// A step's p95 output tokens over its last <see cref="Sample"/> answered (not cached) calls with the model, from
/// <c>llm_provider_usage</c> (index <c>idx_provider_usage_step</c>). Kept in memory for <see cref="Fresh"/> per step, so
/// a burst of jobs asks PostgreSQL once; a step without history is asked again sooner (its first answers teach it).
/// </summary>
internal sealed class PostgresOutputTokenHistory(NpgsqlDataSource dataSource, TimeProvider time) : IOutputTokenHistory
{
    private const int Sample = 200;
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FreshWithoutHistory = TimeSpan.FromSeconds(2);

    // $1 workflow name, $2 step id, $3 model.
    private static readonly string P95Sql = $"""
        SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY output_tokens)::int AS p95 FROM (
            SELECT output_tokens FROM llm_provider_usage
             WHERE metadata->>'workflow_name' = $1 AND metadata->>'step_id' = $2 AND model = $3
               AND coalesce(metadata->>'cache_hit', 'false') <> 'true'
             ORDER BY created_at DESC LIMIT {Sample}) recent
        """;

    private readonly ConcurrentDictionary<(string, string, string), (int? P95, DateTimeOffset ReadAt)> _known = new();

    public async ValueTask<int?> P95Async(string workflowName, string stepId, string model, CancellationToken cancellationToken)
    {
        var key = (workflowName, stepId, model);
        var now = time.GetUtcNow();
        if (_known.TryGetValue(key, out var known) && now - known.ReadAt < (known.P95 is null ? FreshWithoutHistory : Fresh))
        {
            return known.P95;
        }

        await using var command = dataSource.CreateCommand(P95Sql);
        command.Parameters.Add(new NpgsqlParameter { Value = workflowName });
        command.Parameters.Add(new NpgsqlParameter { Value = stepId });
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var p95 = await command.ExecuteScalarAsync(cancellationToken) is int value ? value : (int?)null;
        _known[key] = (p95, now);
        return p95;
    }
}
