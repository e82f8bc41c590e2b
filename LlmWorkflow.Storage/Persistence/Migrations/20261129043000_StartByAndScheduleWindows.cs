using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A job's time-to-live before it starts (<c>ttl_seconds</c> on submit, issue 80): <c>start_by</c> is when a job no
/// worker has started yet ends as expired. The partial index holds only the jobs that may still expire (never started,
/// not finished), so the expirer's next due time is one index probe and the index stays as small as the backlog of
/// such jobs. A schedule's extras (Temporal's): <c>jitter_seconds</c> (each tick's job starts up to that many seconds
/// late) and <c>start_at</c>/<c>end_at</c> (no ticks outside). Expand-only: nullable columns, or one with a constant
/// default, are catalog changes.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129043000_StartByAndScheduleWindows")]
internal sealed class StartByAndScheduleWindows : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS start_by TIMESTAMPTZ;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_start_by ON llm_workflow_jobs(start_by)
                WHERE start_by IS NOT NULL AND started_at IS NULL AND status IN ('pending', 'queued', 'scheduled', 'waiting');
            ALTER TABLE llm_schedules ADD COLUMN IF NOT EXISTS jitter_seconds INTEGER NOT NULL DEFAULT 0,
                                      ADD COLUMN IF NOT EXISTS start_at TIMESTAMPTZ,
                                      ADD COLUMN IF NOT EXISTS end_at TIMESTAMPTZ;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_schedules DROP COLUMN IF EXISTS jitter_seconds, DROP COLUMN IF EXISTS start_at, DROP COLUMN IF EXISTS end_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_start_by;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS start_by;
            """);
    }
}
