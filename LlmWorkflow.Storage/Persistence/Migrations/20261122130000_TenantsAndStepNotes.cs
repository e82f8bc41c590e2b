using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Every job belongs to a tenant (the caller key's application). Jobs stored before tenants existed belong to
/// <c>main-app</c>, the tenant of <c>LLM_MICROSERVICE_API_KEY</c>. Idempotency keys become unique per tenant and
/// user (NULLS NOT DISTINCT: a repeated key without a user_id is a replay too). Step rows get <c>notes</c>: what the
/// service changed about an output before storing it (a poison answer's NULs removed).
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122130000_TenantsAndStepNotes")]
internal sealed class TenantsAndStepNotes : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN tenant_id VARCHAR(100) NOT NULL DEFAULT 'main-app';
            DROP INDEX IF EXISTS idx_workflow_jobs_idempotency;
            CREATE UNIQUE INDEX idx_workflow_jobs_tenant_idempotency ON llm_workflow_jobs(tenant_id, user_id, idempotency_key)
                NULLS NOT DISTINCT WHERE idempotency_key IS NOT NULL;
            CREATE INDEX idx_workflow_jobs_tenant_created_at ON llm_workflow_jobs(tenant_id, created_at);
            ALTER TABLE llm_job_steps ADD COLUMN notes TEXT;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_created_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_idempotency;
            CREATE UNIQUE INDEX idx_workflow_jobs_idempotency ON llm_workflow_jobs(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS tenant_id;
            ALTER TABLE llm_job_steps DROP COLUMN IF EXISTS notes;
            """);
    }
}
