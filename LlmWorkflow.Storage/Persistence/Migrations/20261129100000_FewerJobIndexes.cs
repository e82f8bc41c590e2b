using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Fewer indexes on the job row, which every job writes three times (submit, claim, finish). No update leaves
/// <c>status</c> alone, so none is HOT: each row version is offered to every index of the table, and a partial index
/// costs its predicate's test even when it takes no entry (PostgreSQL opens every index and prepares every predicate
/// for each statement that writes the row). Two pairs of capability indexes become one index each, with the same
/// plans for their statements:
/// <list type="bullet">
/// <item>Concurrency keys: <c>idx_workflow_jobs_key_running</c> (a key's queued and running jobs, counted by the claim
/// and the release) and <c>idx_workflow_jobs_key_slot_waits</c> (a key's slot waits by priority, then age) become
/// <c>idx_workflow_jobs_key_slots</c> on <c>(status, concurrency_key, priority DESC, queued_at, id)</c> over keyed jobs
/// that are queued, running or waiting: a count is an index-only range per status, the next waits a range read in
/// order.</item>
/// <item>Versions: <c>idx_workflow_jobs_version_ended</c> (finished jobs' digests) and the legacy
/// <c>idx_workflow_jobs_definition</c> (hex hashes older builds wrote) become <c>idx_workflow_jobs_versions</c> on
/// <c>workflow_name</c> over either; the listing reads the hash from the row it visits anyway, so the key no longer
/// carries the 33-byte digest. A plain job still takes one entry, its finish's.</item>
/// <item>The two user indexes, <c>idx_workflow_jobs_user_created_at</c> and
/// <c>idx_workflow_jobs_tenant_user_created_at_id</c>, hold only jobs with a <c>user_id</c>: every statement that reads
/// them filters <c>user_id = …</c>, which no job without a user matches. A job submitted without a user (an internal
/// caller's, a schedule's without one) takes no entry in either, six fewer index entries over its three row versions.</item>
/// </list>
/// Every other capability index already holds no plain job (its predicate is false for a plain job's row versions) and
/// is kept: each serves an order or a key no other index has. Expand-only: indexes change plans, never results, so an
/// older build runs against this schema as before.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129100000_FewerJobIndexes")]
internal sealed class FewerJobIndexes : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_key_slots ON llm_workflow_jobs(status, concurrency_key, priority DESC, queued_at, id)
                WHERE concurrency_key IS NOT NULL AND status IN ('queued', 'processing', 'waiting');
            DROP INDEX IF EXISTS idx_workflow_jobs_key_running;
            DROP INDEX IF EXISTS idx_workflow_jobs_key_slot_waits;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_versions ON llm_workflow_jobs(workflow_name)
                WHERE (definition_digest IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')) OR definition_hash IS NOT NULL;
            DROP INDEX IF EXISTS idx_workflow_jobs_version_ended;
            DROP INDEX IF EXISTS idx_workflow_jobs_definition;
            DROP INDEX IF EXISTS idx_workflow_jobs_user_created_at;
            CREATE INDEX idx_workflow_jobs_user_created_at ON llm_workflow_jobs(user_id, created_at) WHERE user_id IS NOT NULL;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at_id;
            CREATE INDEX idx_workflow_jobs_tenant_user_created_at_id ON llm_workflow_jobs(tenant_id, user_id, created_at, id) WHERE user_id IS NOT NULL;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at_id;
            CREATE INDEX idx_workflow_jobs_tenant_user_created_at_id ON llm_workflow_jobs(tenant_id, user_id, created_at, id);
            DROP INDEX IF EXISTS idx_workflow_jobs_user_created_at;
            CREATE INDEX idx_workflow_jobs_user_created_at ON llm_workflow_jobs(user_id, created_at);
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_definition ON llm_workflow_jobs(workflow_name, definition_hash) WHERE definition_hash IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_version_ended ON llm_workflow_jobs(workflow_name, definition_digest)
                WHERE definition_digest IS NOT NULL AND status IN ('completed', 'failed', 'cancelled');
            DROP INDEX IF EXISTS idx_workflow_jobs_versions;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_key_slot_waits ON llm_workflow_jobs(concurrency_key, priority DESC, queued_at, id)
                WHERE status = 'waiting' AND wait_data->>'kind' = 'slot' AND concurrency_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_key_running ON llm_workflow_jobs(concurrency_key)
                WHERE status IN ('processing', 'queued') AND concurrency_key IS NOT NULL;
            DROP INDEX IF EXISTS idx_workflow_jobs_key_slots;
            """);
    }
}
