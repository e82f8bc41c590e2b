using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A workflow's <c>concurrency</c> resolved per job (its key, scoped by tenant and workflow, and its limit), with the
/// indexes a claim counts running jobs by and a freed key takes its next waiting job by. Expand-only: older jobs have
/// no key.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261128093000_ConcurrencyKeys")]
internal sealed class ConcurrencyKeys : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS concurrency_key VARCHAR(600), ADD COLUMN IF NOT EXISTS concurrency_limit INT;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_key_running ON llm_workflow_jobs(concurrency_key)
             WHERE status IN ('processing', 'queued') AND concurrency_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_key_slot_waits ON llm_workflow_jobs(concurrency_key, priority DESC, queued_at, id)
             WHERE status = 'waiting' AND wait_data->>'kind' = 'slot' AND concurrency_key IS NOT NULL;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_key_slot_waits;
            DROP INDEX IF EXISTS idx_workflow_jobs_key_running;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS concurrency_limit, DROP COLUMN IF EXISTS concurrency_key;
            """);
    }
}
