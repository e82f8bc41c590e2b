using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A schedule's <c>buffer_one</c> overlap (Temporal's BUFFER_ONE, issue 80): <c>buffered_tick_at</c> holds the one
/// tick that came while the schedule's previous job was unfinished. The trigger is that job's terminal transition
/// telling the tickers (<c>pg_notify</c>, delivered on commit) that the buffered tick may start now, whichever
/// statement ended it (a worker's finish, a cancel, an expiry, the stale cleanup). It notifies for every buffer_one
/// schedule's job, not only once a tick is buffered: a job ending while a ticker's buffering transaction is still
/// uncommitted would otherwise go unannounced (the ticker's claim after its commit sees the end). Its WHEN clause keeps every job
/// without a schedule out of the function: a plain job's update only evaluates <c>schedule_id IS NOT NULL</c>.
/// Expand-only: a nullable column, a partial index, a function and a trigger.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129081000_ScheduleBufferOne")]
internal sealed class ScheduleBufferOne : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_schedules ADD COLUMN IF NOT EXISTS buffered_tick_at TIMESTAMPTZ;
            CREATE INDEX IF NOT EXISTS idx_schedules_buffered ON llm_schedules(buffered_tick_at) WHERE buffered_tick_at IS NOT NULL;
            CREATE OR REPLACE FUNCTION llm_schedule_buffer_release() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                IF EXISTS (SELECT 1 FROM llm_schedules WHERE id = NEW.schedule_id AND (overlap = 'buffer_one' OR buffered_tick_at IS NOT NULL)) THEN
                    PERFORM pg_notify('llm_schedule_buffers', NEW.schedule_id::text);
                END IF;
                RETURN NULL;
            END
            $fn$;
            DROP TRIGGER IF EXISTS trg_workflow_jobs_schedule_buffer ON llm_workflow_jobs;
            CREATE TRIGGER trg_workflow_jobs_schedule_buffer AFTER UPDATE OF status ON llm_workflow_jobs
                FOR EACH ROW
                WHEN (NEW.schedule_id IS NOT NULL AND NEW.status IN ('completed', 'failed', 'cancelled')
                      AND OLD.status NOT IN ('completed', 'failed', 'cancelled'))
                EXECUTE FUNCTION llm_schedule_buffer_release();
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TRIGGER IF EXISTS trg_workflow_jobs_schedule_buffer ON llm_workflow_jobs;
            DROP FUNCTION IF EXISTS llm_schedule_buffer_release();
            DROP INDEX IF EXISTS idx_schedules_buffered;
            ALTER TABLE llm_schedules DROP COLUMN IF EXISTS buffered_tick_at;
            """);
    }
}
