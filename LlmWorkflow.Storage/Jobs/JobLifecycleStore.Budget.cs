using Npgsql;

namespace LlmWorkflow.Storage.Jobs;

/// <summary>
/// Jobs parked on a provider budget (wait kind <c>budget</c>): a released concurrency slot or a resumed provider moves
/// their due time to now, highest priority first, so the due-job waker queues them at once instead of at the end of
/// their wait. Only the due time moves; the Wake transition stays the waker's.
/// </summary>
public sealed partial class JobLifecycleStore
{
    // $1 scopes (text[]: "provider/model", "provider", or a dollar budget's "tenant:acme:daily"), $2 limit, $3 only waits
    // with this reason (NULL: any).
    private static readonly string HurryBudgetWaitersSql = $"""
        UPDATE llm_workflow_jobs SET run_at = now(), updated_at = now()
         WHERE id IN (SELECT id FROM llm_workflow_jobs
                       WHERE status = '{JobStatus.Waiting.ToWire()}' AND wait_data->>'kind' = 'budget' AND run_at > now()
                         AND (wait_data->'budget'->>'scope' = ANY($1) OR split_part(wait_data->'budget'->>'scope', '/', 1) = ANY($1))
                         AND ($3::text IS NULL OR wait_data->'budget'->>'reason' = $3)
                       ORDER BY priority DESC, run_at
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
        """;

    // Jobs parked on a provider batch (wait kind batch) are listed under their provider with the reason "batch".
    // No parameters.
    private static readonly string BudgetWaitersSql = $"""
        SELECT CASE WHEN wait_data->>'kind' = 'batch' THEN wait_data->'batch'->>'provider' ELSE wait_data->'budget'->>'scope' END AS scope,
               CASE WHEN wait_data->>'kind' = 'batch' THEN 'batch' ELSE coalesce(wait_data->'budget'->>'reason', '') END AS reason, count(*) AS jobs
          FROM llm_workflow_jobs
         WHERE status = '{JobStatus.Waiting.ToWire()}' AND wait_data->>'kind' IN ('budget', 'batch') GROUP BY 1, 2 ORDER BY 1, 2
        """;

    /// <summary>Makes up to <paramref name="limit"/> jobs waiting for the budget of <paramref name="scopes"/> (or their providers) due now.</summary>
    public async Task<int> HurryBudgetWaitersAsync(IReadOnlyList<string> scopes, int limit, CancellationToken cancellationToken, string? reason = null)
    {
        await using var command = dataSource.CreateCommand(HurryBudgetWaitersSql);
        command.Parameters.Add(new NpgsqlParameter { Value = scopes.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How many jobs wait for a budget, by scope and reason, and on a batch, by provider (reason "batch"; for operators).</summary>
    public async Task<IReadOnlyList<(string Scope, string Reason, long Jobs)>> BudgetWaitersAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(BudgetWaitersSql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var waiting = new List<(string, string, long)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            waiting.Add((reader.FieldOrNull<string>("scope") ?? "", reader.Field<string>("reason"), reader.Field<long>("jobs")));
        }

        return waiting;
    }
}
