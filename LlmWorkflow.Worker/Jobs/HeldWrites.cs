using LlmWorkflow.Engine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Worker.Jobs;

/// <summary>
/// Holds the writes that record paid work (a step's checkpoint with the usage rows of its LLM calls) while PostgreSQL
/// is unreachable, and retries them until it returns: an answer bought during an outage is stored once, when the
/// database is back, instead of being thrown away and bought again. The run waits at its write meanwhile (the answer
/// stays in its memory). Bounded per worker by <see cref="WorkerOptions.HoldWritesMaxBytes"/> and
/// <see cref="WorkerOptions.HoldWritesFor"/>; beyond either the write fails with <see cref="WriteHoldExceededException"/>.
/// </summary>
public sealed partial class HeldWrites(IOptions<WorkerOptions> options, TimeProvider time, ILogger<HeldWrites> logger)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(2);
    private readonly WorkerOptions _options = options.Value;
    private long _bytes;
    private int _count;

    /// <summary>Writes held right now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Estimated memory of the writes held right now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Runs <paramref name="write"/>; if PostgreSQL is unreachable (a transient Npgsql failure or a timeout), holds it
    /// and runs it again until it succeeds, or until the hold's time runs out. Other failures are not held.
    /// </summary>
    /// <param name="bytes">The write's estimated size, counted against the worker's hold memory while it is held.</param>
    /// <param name="what">Names the write in logs and errors, e.g. <c>step "answer" of job …</c>.</param>
    public async Task<T> WriteAsync<T>(Func<Task<T>> write, long bytes, string what)
    {
        try
        {
            return await write();
        }
        catch (Exception ex) when (IsOutage(ex))
        {
            return await HoldAsync(write, bytes, what, ex);
        }
    }

    /// <summary>True for failures that mean "PostgreSQL is not reachable right now" rather than "this write is wrong".</summary>
    public static bool IsOutage(Exception ex) => ex is NpgsqlException { IsTransient: true } or TimeoutException
        && ex is not WriteHoldExceededException;

    private async Task<T> HoldAsync<T>(Func<Task<T>> write, long bytes, string what, Exception first)
    {
        if (Interlocked.Add(ref _bytes, bytes) > _options.HoldWritesMaxBytes)
        {
            Interlocked.Add(ref _bytes, -bytes);
            Telemetry.HeldWritesDiscarded.Add(1, new KeyValuePair<string, object?>("reason", "memory"));
            LogDiscarded(first, what, "the worker already holds its limit of writes (Worker:HoldWritesMaxBytes)");
            throw new WriteHoldExceededException(
                $"PostgreSQL is unreachable and the worker already holds {Bytes:N0} bytes of unwritten results, its limit " +
                $"(Worker:HoldWritesMaxBytes = {_options.HoldWritesMaxBytes:N0}); the result of {what} ({bytes:N0} bytes) was not stored.", first);
        }

        Interlocked.Increment(ref _count);
        Telemetry.HeldWritesStarted.Add(1);
        LogHolding(first, what);
        var started = time.GetTimestamp();
        var delay = FirstRetry;
        try
        {
            while (true)
            {
                await Task.Delay(delay, time);
                try
                {
                    var result = await write();
                    LogWritten(what, time.GetElapsedTime(started).TotalSeconds);
                    return result;
                }
                catch (Exception ex) when (IsOutage(ex))
                {
                    if (time.GetElapsedTime(started) >= _options.HoldWritesFor)
                    {
                        Telemetry.HeldWritesDiscarded.Add(1, new KeyValuePair<string, object?>("reason", "time"));
                        LogDiscarded(ex, what, "PostgreSQL stayed unreachable longer than Worker:HoldWritesFor");
                        throw new WriteHoldExceededException(
                            $"PostgreSQL stayed unreachable for longer than the worker holds results (Worker:HoldWritesFor = " +
                            $"{_options.HoldWritesFor}); the result of {what} was not stored.", ex);
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Add(ref _bytes, -bytes);
        }
    }

    /// <summary>A rough size of a write's parameters in memory (UTF-16 text), for the hold's memory bound.</summary>
    public static long EstimateBytes(IEnumerable<WriteStatement> statements) =>
        statements.Sum(s => s.Sql.Length * 2L + s.Parameters.Sum(p => Estimate(p.Value)) + (s.Values?.Sum(Estimate) ?? 0));

    private static long Estimate(object? value) => value is string text ? text.Length * 2L : 16L;

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unreachable: holding the result of {What} until it returns")]
    private partial void LogHolding(Exception ex, string what);

    [LoggerMessage(Level = LogLevel.Information, Message = "Held result of {What} written after {Seconds:F1} s")]
    private partial void LogWritten(string what, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "The result of {What} was discarded: {Reason}. The job resumes from its last stored checkpoint when PostgreSQL returns (this step runs again).")]
    private partial void LogDiscarded(Exception ex, string what, string reason);
}

/// <summary>
/// A write that recorded paid work was not stored because PostgreSQL stayed unreachable beyond the worker's hold
/// (time or memory). A <see cref="TimeoutException"/>, so the run counts it as a database outage: the job is handed
/// back and resumes from its last stored checkpoint.
/// </summary>
internal sealed class WriteHoldExceededException(string message, Exception inner) : TimeoutException(message, inner);
