using Npgsql;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Remembers that recording a run's progress (steps, usage, checkpoints) failed because Postgres was unreachable.
/// The engine sees such a failure as a step error, but it is not the job's fault: the worker then gives the job back
/// to the queue (it resumes from its checkpoints) instead of storing a failure.
/// </summary>
internal sealed class RunPersistenceFaults
{
    private Exception? _first;

    public Exception? First => Volatile.Read(ref _first);

    /// <summary>Runs a write; an Npgsql failure is recorded and rethrown.</summary>
    public async Task GuardAsync(Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            Interlocked.CompareExchange(ref _first, ex, null);
            throw;
        }
    }

    public async Task<T> GuardAsync<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            Interlocked.CompareExchange(ref _first, ex, null);
            throw;
        }
    }
}
