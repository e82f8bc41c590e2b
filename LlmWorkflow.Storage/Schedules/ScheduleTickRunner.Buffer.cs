using LlmWorkflow.Storage.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace LlmWorkflow.Storage.Schedules;

/// <summary>
/// <c>buffer_one</c> (Temporal's BUFFER_ONE): the one tick that came while the schedule's previous job was unfinished
/// waits in <c>llm_schedules.buffered_tick_at</c> (its tick row says <c>buffered</c>). The previous job's terminal
/// transition notifies the tickers (a trigger's <c>pg_notify</c>, see <see cref="ScheduleBufferNotices"/>); the ticker
/// that claims the schedule then finds no unfinished job and starts the buffered tick's job, its row becoming
/// <c>started</c>, in the same transaction as any tick due with it.
/// </summary>
public sealed partial class ScheduleTickRunner
{
    // $1 schedule id, $2 tick, $3 outcome, $4 reason, $5 job id, $6 recorded at. An upsert: the tick's row may have
    // been purged by retention meanwhile.
    private const string RecordBufferedStartSql = """
        INSERT INTO llm_schedule_ticks (schedule_id, tick_at, outcome, reason, job_id, tick_count, recorded_at)
        VALUES ($1, $2, $3, $4, $5, 1, $6)
        ON CONFLICT (schedule_id, tick_at) DO UPDATE
           SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, job_id = EXCLUDED.job_id, recorded_at = EXCLUDED.recorded_at
         WHERE llm_schedule_ticks.outcome = 'buffered'
        """;

    /// <summary>
    /// The buffered tick's job when the schedule has one and none of its jobs is unfinished (null job: the tick is
    /// skipped, its input no longer giving the workflow's concurrency key); (null, null) while it still waits.
    /// </summary>
    private (WorkflowJob? Job, ScheduleTick? Tick) StartBuffered(Schedule schedule, List<Guid> unfinished, DateTimeOffset now)
    {
        if (schedule.BufferedTickAt is not { } tickAt || unfinished.Count > 0)
        {
            return (null, null);
        }

        var job = NewJob(schedule, tickAt, now);
        if (!TakeConcurrencyKey(job, schedule))
        {
            return (null, new ScheduleTick(schedule.Id, tickAt, ScheduleTick.Skipped, TickReasons.NoConcurrencyKey, null, 1, now));
        }

        unfinished.Add(job.Id);
        return (job, new ScheduleTick(schedule.Id, tickAt, ScheduleTick.Started, null, job.Id, 1, now));
    }

    private static async Task RecordBufferedStartAsync(NpgsqlTransaction transaction, ScheduleTick tick, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RecordBufferedStartSql, transaction.Connection, transaction);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = tick.ScheduleId });
        p.Add(new NpgsqlParameter { Value = tick.TickAt });
        p.Add(new NpgsqlParameter { Value = tick.Outcome });
        p.Add(new NpgsqlParameter { Value = (object?)tick.Reason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)tick.JobId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        p.Add(new NpgsqlParameter { Value = tick.RecordedAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
