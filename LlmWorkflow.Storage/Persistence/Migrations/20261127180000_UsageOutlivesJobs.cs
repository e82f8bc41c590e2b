using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// What a provider billed stays in the ledger: a job's usage rows outlive it. The cascade from jobs goes; a statement
/// that deletes jobs (bulk delete, cancel-by-delete, retention) copies the job's tenant, workflow and user into its
/// usage rows and stamps <c>job_deleted_at</c>, so every report keeps counting those calls under the same keys and can
/// say how much of a figure came from deleted jobs. The rollup's day rows carry that share
/// (<c>deleted_calls</c>, <c>deleted_cost_usd</c>). Usage rows and rollup rows go only with the usage retention
/// (<c>Maintenance:UsageRetention</c>). Expand-only: older replicas never read the columns.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127180000_UsageOutlivesJobs")]
internal sealed class UsageOutlivesJobs : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_provider_usage DROP CONSTRAINT IF EXISTS llm_provider_usage_job_id_fkey;
            ALTER TABLE llm_provider_usage ADD COLUMN IF NOT EXISTS tenant_id VARCHAR(100);
            ALTER TABLE llm_provider_usage ADD COLUMN IF NOT EXISTS workflow_name VARCHAR(100);
            ALTER TABLE llm_provider_usage ADD COLUMN IF NOT EXISTS user_id VARCHAR(255);
            ALTER TABLE llm_provider_usage ADD COLUMN IF NOT EXISTS username VARCHAR(255);
            ALTER TABLE llm_provider_usage ADD COLUMN IF NOT EXISTS job_deleted_at TIMESTAMPTZ;
            ALTER TABLE llm_usage_daily ADD COLUMN IF NOT EXISTS deleted_calls BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE llm_usage_daily ADD COLUMN IF NOT EXISTS deleted_cost_usd NUMERIC NOT NULL DEFAULT 0;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        // The older schema cannot hold calls of deleted jobs: they go, and the rollup is rebuilt by maintenance.
        migrationBuilder.Sql("""
            DELETE FROM llm_provider_usage u WHERE u.job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM llm_workflow_jobs j WHERE j.id = u.job_id);
            TRUNCATE llm_usage_daily, llm_usage_user_daily, llm_usage_user_monthly, llm_usage_rollup_state;
            ALTER TABLE llm_usage_daily DROP COLUMN IF EXISTS deleted_cost_usd;
            ALTER TABLE llm_usage_daily DROP COLUMN IF EXISTS deleted_calls;
            ALTER TABLE llm_provider_usage DROP COLUMN IF EXISTS job_deleted_at;
            ALTER TABLE llm_provider_usage DROP COLUMN IF EXISTS username;
            ALTER TABLE llm_provider_usage DROP COLUMN IF EXISTS user_id;
            ALTER TABLE llm_provider_usage DROP COLUMN IF EXISTS workflow_name;
            ALTER TABLE llm_provider_usage DROP COLUMN IF EXISTS tenant_id;
            ALTER TABLE llm_provider_usage ADD CONSTRAINT llm_provider_usage_job_id_fkey
                FOREIGN KEY (job_id) REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE;
            """);
    }
}
