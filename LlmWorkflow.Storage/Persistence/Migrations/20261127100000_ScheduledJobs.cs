using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Jobs that wait: a job submitted with <c>run_at</c> (or <c>delay_seconds</c>) is stored <c>scheduled</c> with its due
/// time; a running job parked by a step (a sleep) is <c>waiting</c> with its resume time and <c>wait_data</c>. The
/// due-time index (those two states only, so it stays as small as the jobs waiting) finds the next one. Signals sent to
/// a job (<c>POST /api/v1/jobs/{id}/signals/{event}</c>) wait in its inbox, <c>llm_job_signals</c>, until a
/// <c>wait_for_event</c> step takes one.
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
            CREATE TABLE IF NOT EXISTS llm_job_signals (
                id UUID PRIMARY KEY,
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                event VARCHAR(100) NOT NULL,
                payload JSONB,
                idempotency_key VARCHAR(255),
                received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                taken_by_step VARCHAR(500),
                taken_at TIMESTAMPTZ
            );
            CREATE UNIQUE INDEX IF NOT EXISTS idx_job_signals_idempotency ON llm_job_signals(job_id, event, idempotency_key)
                WHERE idempotency_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_job_signals_inbox ON llm_job_signals(job_id, event, received_at);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS llm_job_signals;
            DROP INDEX IF EXISTS idx_workflow_jobs_due;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS wait_data;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS run_at;
            """);
    }
}
