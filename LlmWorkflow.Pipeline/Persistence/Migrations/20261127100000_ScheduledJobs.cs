using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Pipeline.Persistence.Migrations;

/// <summary>
/// Jobs that wait: a job submitted with <c>run_at</c> (or <c>delay_seconds</c>) is stored <c>scheduled</c> with its due
/// time; a running job parked by a step (a sleep) is <c>waiting</c> with its resume time and <c>wait_data</c>. The
/// due-time index (those two states only, so it stays as small as the jobs waiting) finds the next one.
/// Expand-only: older replicas never read the column.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127100000_ScheduledJobs")]
internal sealed class ScheduledJobs : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS run_at TIMESTAMPTZ;
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS wait_data JSONB;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_due ON llm_workflow_jobs(run_at) WHERE status IN ('scheduled', 'waiting');
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_due;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS wait_data;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS run_at;
            """);
    }
}
