using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Document 004's project generator (<c>/generator</c>). <c>llm_project_documents</c> names, per tenant and user, the
/// run (a <c>generate_project</c> job) that a (project_id, chat_id) started, so a repeated start answers with the same
/// run, and keeps the project's <c>meta</c>. The rest of the proj.v1 document is not copied here: it is read from the
/// run's step checkpoints in <c>llm_job_steps</c>, which are written as each section completes. A run goes with its
/// job. Expand-only: older replicas never read the table.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127200000_ProjectDocuments")]
internal sealed class ProjectDocuments : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE IF NOT EXISTS llm_project_documents (
                run_id UUID PRIMARY KEY REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                tenant_id VARCHAR(100) NOT NULL,
                user_id VARCHAR(255) NOT NULL DEFAULT '',
                project_id VARCHAR(255) NOT NULL,
                chat_id VARCHAR(255) NOT NULL,
                meta JSONB NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX IF NOT EXISTS idx_project_documents_start ON llm_project_documents(tenant_id, user_id, project_id, chat_id);
            CREATE INDEX IF NOT EXISTS idx_project_documents_project ON llm_project_documents(tenant_id, project_id, created_at DESC);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_project_documents;");
    }
}
