using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Provider-aware admission: a step's recent answers by workflow, step and model (their p95 output tokens estimate the
/// next call's reservation), and the budget-waiting jobs by the provider they wait for (a released call wakes them).
/// Expand-only: older replicas never read them.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127190000_AdmissionHistory")]
internal sealed class AdmissionHistory : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE INDEX IF NOT EXISTS idx_provider_usage_step
                ON llm_provider_usage ((metadata->>'workflow_name'), (metadata->>'step_id'), model, created_at DESC);
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_budget_wait
                ON llm_workflow_jobs ((wait_data->'budget'->>'scope'), priority DESC, run_at)
                WHERE status = 'waiting' AND wait_data->>'kind' = 'budget';
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_budget_wait;
            DROP INDEX IF EXISTS idx_provider_usage_step;
            """);
    }
}
