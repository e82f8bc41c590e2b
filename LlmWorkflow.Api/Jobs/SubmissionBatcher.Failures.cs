using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// A batch whose Submit failed: one bad row fails the whole statement, so its submissions are sent again one by one
/// and the row fails only its own request.
/// </summary>
public sealed partial class SubmissionBatcher
{
    private async Task BatchFailedAsync(Pending[] batch, Exception failure)
    {
        if (batch.Length > 1 && failure is NpgsqlException)
        {
            LogBatchFailed(failure, batch.Length);
            foreach (var single in batch)
            {
                try
                {
                    await FlushAsync([single]);
                }
                catch (Exception singleEx)
                {
                    single.Completion.TrySetException(singleEx);
                }
            }

            return;
        }

        foreach (var pending in batch)
        {
            pending.Completion.TrySetException(failure);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} submissions failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception ex, int count);
}
