using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Tombstones of deleted jobs, so a deleted job's status URL answers 410 Gone (not 404) until retention purges them,
/// and webhook attempts that outlive their job: a job deleted while queued or running is cancelled first, and its
/// <c>workflow.cancelled</c> event must still be delivered (signed with the secret kept in the tombstone). The
/// attempts' foreign key goes; the statements that delete jobs delete their attempts themselves.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261125110000_DeletedJobs")]
internal sealed class DeletedJobs : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_deleted_jobs (
                job_id UUID PRIMARY KEY,
                tenant_id VARCHAR(100) NOT NULL,
                user_id VARCHAR(255),
                workflow_name VARCHAR(100) NOT NULL,
                webhook_secret VARCHAR(1000),
                deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX idx_deleted_jobs_deleted_at ON llm_deleted_jobs(deleted_at);
            ALTER TABLE llm_webhook_attempts DROP CONSTRAINT IF EXISTS llm_webhook_attempts_job_id_fkey;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DELETE FROM llm_webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM llm_workflow_jobs j WHERE j.id = a.job_id);
            ALTER TABLE llm_webhook_attempts ADD CONSTRAINT llm_webhook_attempts_job_id_fkey
                FOREIGN KEY (job_id) REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE;
            DROP TABLE IF EXISTS llm_deleted_jobs;
            """);
    }
}
