using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A smaller job row, written three times per job (submit, claim, finish). A job's pinned version is stored as its
/// 32-byte SHA-256 in <c>definition_digest</c> (33 bytes a row version where the hex <c>definition_hash</c> took 65). No
/// update leaves <c>status</c> alone, so none is HOT and every index takes an entry per row version: the versions
/// listing's index on the digest, <c>idx_workflow_jobs_version_ended</c>, holds finished jobs only (one entry a job, the
/// finish's), the listing reads unfinished ones through <c>idx_workflow_jobs_status_created_at</c>, and
/// <c>idx_workflow_jobs_definition</c> stays for the rows older builds wrote (new rows leave <c>definition_hash</c> NULL
/// and never enter it). The unique index on <c>celery_task_id</c> stays: document 000's table declares it.
/// Expand-only: <c>definition_hash</c> stays and is no longer written; new code reads either column. An older build
/// reading a new row sees no hash: its worker runs the workflow's current definition (as for jobs from before pinning)
/// and its API shows none, until it is replaced. A later contract step can drop <c>definition_hash</c> and its index once
/// no build before this one runs and no row carries it.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129085000_CompactJobRow")]
internal sealed class CompactJobRow : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS definition_digest BYTEA;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_version_ended ON llm_workflow_jobs(workflow_name, definition_digest)
                WHERE definition_digest IS NOT NULL AND status IN ('completed', 'failed', 'cancelled');
            """);
    }

    // A rollback drops the digests: jobs pinned since read as from before pinning (they run the current definition).
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_version_ended;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS definition_digest;
            """);
    }
}
