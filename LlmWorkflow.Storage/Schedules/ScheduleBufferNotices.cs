using Microsoft.Extensions.Logging;
using Npgsql;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// The tickers' ear for <c>buffer_one</c>: a job of such a schedule ending (any terminal transition) makes PostgreSQL's
/// trigger <c>pg_notify</c> this channel on commit, and a listening ticker runs a pass at once, so a buffered tick
/// starts right after the previous job ends rather than at the tickers' backstop reread (a minute). A notice lost while
/// the listening connection was down costs at most that reread; (re)subscribing announces one pass at once.
/// </summary>
public sealed partial class ScheduleBufferNotices(NpgsqlDataSource dataSource, ILogger<ScheduleBufferNotices> logger)
{
    /// <summary>The channel the trigger <c>trg_workflow_jobs_schedule_buffer</c> notifies.</summary>
    public const string Channel = "llm_schedule_buffers";

    /// <summary>Calls <paramref name="onJobEnded"/> on every notice until <paramref name="cancellationToken"/> is cancelled (a stop).</summary>
    public async Task ListenAsync(Action onJobEnded, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, _) => onJobEnded();
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                onJobEnded();
                while (!cancellationToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                LogListenFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for the ends of buffer_one schedules' jobs failed; retrying in a second")]
    private partial void LogListenFailed(Exception ex);
}
