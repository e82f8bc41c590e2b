using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Jobs waiting for a slot of their tenant (<c>Tenants:&lt;id&gt;:MaxConcurrentJobs</c>), in the order a freed slot takes
/// them: a release reads its tenant's next one without sorting the tenant's backlog. Expand-only.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261128090000_TenantSlotWaits")]
internal sealed class TenantSlotWaits : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_slot_waits ON llm_workflow_jobs(tenant_id, priority DESC, queued_at, id)
             WHERE status = 'waiting' AND wait_data->>'kind' = 'slot';
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP INDEX IF EXISTS idx_workflow_jobs_slot_waits;");
    }
}
