using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// A batch that failed: its writes are sent again one by one, so that one bad statement fails only its own caller
/// (a batch is one implicit transaction, and any error rolled back all of it).
/// </summary>
public sealed partial class PostgresWriteBatcher
{
    private async Task BatchFailedAsync(List<PendingWrite> batch, Exception failure)
    {
        if (batch.Count > 1 && failure is NpgsqlException)
        {
            LogBatchFailed(failure, batch.Count);
            foreach (var write in batch)
            {
                await ExecuteOneAsync(write);
            }

            return;
        }

        foreach (var write in batch)
        {
            write.Completion.TrySetException(failure);
        }
    }

    private async Task ExecuteOneAsync(PendingWrite write)
    {
        try
        {
            await ExecuteBatchAsync([write]);
        }
        catch (Exception ex)
        {
            write.Completion.TrySetException(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} writes failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);
}
