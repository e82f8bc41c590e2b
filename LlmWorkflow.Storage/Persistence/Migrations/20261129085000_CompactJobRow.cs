using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A smaller job row, written three times per job (submit, claim, finish). A job's pinned version is stored as its
/// 32-byte SHA-256 in <c>definition_digest</c> (33 bytes a row version where the hex <c>definition_hash</c> took 65), and
/// <c>idx_workflow_jobs_definition</c> goes: no update leaves <c>status</c> alone, so none is HOT and every index takes
/// an entry per row version; its one reader, the versions listing, reads the tenant's jobs instead. The unique
/// <c>idx_workflow_jobs_celery_task</c> goes too: <c>celery_task_id</c> is the job id as text, written by the same INSERT as the
/// id (Submit, Fork), so the primary key already makes it unique, and no statement looks a job up by it.
/// Expand-only: <c>definition_hash</c> stays and is no longer written. Rows an older build wrote keep the hex there and
/// new code reads either column. An older build reading a new row sees no hash: its worker runs the workflow's current
/// definition (as for jobs from before pinning) and its API shows none, until it is replaced. A later contract step can
/// drop <c>definition_hash</c> once no build before this one runs and no row carries it.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129085000_CompactJobRow")]
internal sealed class CompactJobRow : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS definition_digest BYTEA;
            DROP INDEX IF EXISTS idx_workflow_jobs_definition;
            DROP INDEX IF EXISTS idx_workflow_jobs_celery_task;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE UNIQUE INDEX IF NOT EXISTS idx_workflow_jobs_celery_task ON llm_workflow_jobs(celery_task_id);
            UPDATE llm_workflow_jobs SET definition_hash = encode(definition_digest, 'hex') WHERE definition_digest IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_definition ON llm_workflow_jobs(workflow_name, definition_hash) WHERE definition_hash IS NOT NULL;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS definition_digest;
            """);
    }
}
