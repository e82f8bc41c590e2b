using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The jobs list's two most used filters within a tenant get an index each that also gives the list's order (newest
/// first), so a page and its bounded count read only the rows they return.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122190000_JobListIndexes")]
internal sealed class JobListIndexes : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE INDEX idx_workflow_jobs_tenant_status_created_at ON llm_workflow_jobs(tenant_id, status, created_at);
            CREATE INDEX idx_workflow_jobs_tenant_user_created_at ON llm_workflow_jobs(tenant_id, user_id, created_at);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_status_created_at;
            """);
    }
}
