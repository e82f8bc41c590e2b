using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// What an operator needs in a provider outage. <c>attempt_traces</c> lists each run attempt's trace (attempt, trace id,
/// worker, start), so every attempt of a retried job is reachable from its page. <c>llm_workflow_pauses</c> holds the
/// paused workflows: their new jobs are accepted as scheduled and their due jobs are not woken until the workflow is
/// resumed. Expand-only: older replicas never read either.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127170000_OperatorControls")]
internal sealed class OperatorControls : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS attempt_traces JSONB;
            CREATE TABLE IF NOT EXISTS llm_workflow_pauses (
                workflow_name VARCHAR(255) PRIMARY KEY,
                paused_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                paused_by VARCHAR(255),
                reason VARCHAR(500)
            );
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS llm_workflow_pauses;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS attempt_traces;
            """);
    }
}
