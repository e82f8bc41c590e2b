using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Pinned definitions and forks. <c>llm_workflow_versions</c> keeps each workflow version a job ran once, keyed by its
/// content hash (the canonical definition, the prompt files it uses and its price rows); a job names its version in
/// <c>definition_hash</c> (null for jobs from before: they run the current definition). A fork names its source job
/// and step; a step row copied from the source into a fork names the job it came from (<c>reused_from_job_id</c>).
/// Expand-only: older replicas never read the columns.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127140000_PinnedDefinitions")]
internal sealed class PinnedDefinitions : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE IF NOT EXISTS llm_workflow_versions (
                hash CHAR(64) PRIMARY KEY,
                workflow_name VARCHAR(255) NOT NULL,
                definition JSONB NOT NULL,
                prompts JSONB NOT NULL,
                prices JSONB NOT NULL,
                first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX IF NOT EXISTS idx_workflow_versions_name ON llm_workflow_versions(workflow_name);
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS definition_hash CHAR(64);
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS forked_from_job_id UUID;
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS forked_from_step VARCHAR(255);
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_forked_from ON llm_workflow_jobs(forked_from_job_id) WHERE forked_from_job_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_definition ON llm_workflow_jobs(workflow_name, definition_hash) WHERE definition_hash IS NOT NULL;
            ALTER TABLE llm_job_steps ADD COLUMN IF NOT EXISTS reused_from_job_id UUID;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_job_steps DROP COLUMN IF EXISTS reused_from_job_id;
            DROP INDEX IF EXISTS idx_workflow_jobs_definition;
            DROP INDEX IF EXISTS idx_workflow_jobs_forked_from;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS forked_from_step;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS forked_from_job_id;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS definition_hash;
            DROP TABLE IF EXISTS llm_workflow_versions;
            """);
    }
}
