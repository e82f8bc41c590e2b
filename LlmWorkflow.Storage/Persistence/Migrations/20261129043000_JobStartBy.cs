using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A job's time-to-live before it starts (<c>ttl_seconds</c> on submit, issue 80): <c>start_by</c> is when a job no
/// worker has started yet ends as expired. The partial index holds only the jobs that may still expire (never started,
/// not finished), so the expirer's next due time is one index probe and the index stays as small as the backlog of
/// such jobs. Expand-only: a nullable column without a default is a catalog change.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129043000_JobStartBy")]
internal sealed class JobStartBy : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS start_by TIMESTAMPTZ;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_start_by ON llm_workflow_jobs(start_by)
                WHERE start_by IS NOT NULL AND started_at IS NULL AND status IN ('pending', 'queued', 'scheduled', 'waiting');
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_start_by;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS start_by;
            """);
    }
}
