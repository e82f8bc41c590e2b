using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>
/// The <c>dispatched_at</c> mark of a queued job. A job whose XADD failed (Redis down) must not keep the mark it was
/// inserted with, or the reconciler would wait <see cref="WorkerOptions.RedispatchAfter"/> before sending it; without
/// the mark it goes out on the reconciler's first tick after Redis is back.
/// </summary>
public static class JobDispatchMarks
{
    public static async Task ClearAsync(NpgsqlDataSource dataSource, Guid[] jobIds, ILogger logger)
    {
        if (jobIds.Length == 0)
        {
            return;
        }

        try
        {
            await using var command = dataSource.CreateCommand("UPDATE llm_workflow_jobs SET dispatched_at = NULL WHERE id = ANY($1) AND status = 'queued'");
            command.Parameters.Add(new NpgsqlParameter { Value = jobIds });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The periodic redispatch still sends them, later.
            logger.LogWarning(ex, "Could not clear the dispatch mark of {Count} job(s)", jobIds.Length);
        }
    }
}
