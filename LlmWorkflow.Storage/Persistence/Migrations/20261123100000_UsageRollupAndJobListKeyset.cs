using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Scale: the usage report's rollup and the jobs list's keyset order.
/// <list type="bullet">
/// <item><c>llm_usage_daily</c>: sums per UTC day, tenant, model and workflow; <c>llm_usage_user_daily</c> and
/// <c>llm_usage_user_monthly</c>: sums per day / month, tenant and user group. Filled for closed days by
/// <c>UsageRollup</c> (scheduled maintenance), never on the workers' hot path; every day before
/// <c>llm_usage_rollup_state.rolled_until</c> is in them, later rows are summed raw.</item>
/// <item>The list's tenant indexes end in <c>id</c>, the list's tie-break, so a page, a cursor and an offset are
/// read from the index in the list's order (<c>created_at DESC, id DESC</c>).</item>
/// <item>Indexes no query needs are dropped: on jobs, status, user_id and workflow_name alone (another index's prefix
/// serves them; each was written by every submit and every status change of a job); on usage rows, provider and model
/// (written by every LLM call; the report reads the rollup and created_at, the list's model filter goes by job_id).</item>
/// </list>
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261123100000_UsageRollupAndJobListKeyset")]
internal sealed class UsageRollupAndJobListKeyset : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_usage_rollup_state (
                id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
                rolled_until DATE NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            );

            -- '' (never a valid tenant, workflow or user) stands for "none": calls whose job is gone, jobs without a
            -- user id; NOT NULL keeps the keys usable by the retention's equality joins.
            CREATE TABLE llm_usage_daily (
                day DATE NOT NULL,
                tenant_id VARCHAR(100) NOT NULL,
                model VARCHAR(100) NOT NULL,
                workflow_name VARCHAR(255) NOT NULL,
                calls BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                total_tokens BIGINT NOT NULL,
                cost_usd NUMERIC NOT NULL,
                PRIMARY KEY (day, tenant_id, model, workflow_name)
            );

            -- user_id, user_key: the report's user group. A user id: (user_id, ''); no user id: ('', 'n:' || username),
            -- or ('', 'none') without a username either.
            -- username / username_at: the latest username among the group's calls of that day or month.
            CREATE TABLE llm_usage_user_daily (
                day DATE NOT NULL,
                tenant_id VARCHAR(100) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                user_key TEXT NOT NULL,
                calls BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                total_tokens BIGINT NOT NULL,
                cost_usd NUMERIC NOT NULL,
                username VARCHAR(255),
                username_at TIMESTAMPTZ,
                PRIMARY KEY (day, tenant_id, user_id, user_key)
            );

            CREATE TABLE llm_usage_user_monthly (
                month DATE NOT NULL,
                tenant_id VARCHAR(100) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                user_key TEXT NOT NULL,
                calls BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                total_tokens BIGINT NOT NULL,
                cost_usd NUMERIC NOT NULL,
                username VARCHAR(255),
                username_at TIMESTAMPTZ,
                PRIMARY KEY (month, tenant_id, user_id, user_key)
            );

            DROP INDEX IF EXISTS idx_workflow_jobs_status;
            DROP INDEX IF EXISTS idx_workflow_jobs_user_id;
            DROP INDEX IF EXISTS idx_workflow_jobs_workflow_name;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_created_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_status_created_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at;
            DROP INDEX IF EXISTS idx_provider_usage_provider;
            DROP INDEX IF EXISTS idx_provider_usage_model;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_tenant_created_at_id ON llm_workflow_jobs(tenant_id, created_at, id);
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_tenant_status_created_at_id ON llm_workflow_jobs(tenant_id, status, created_at, id);
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_tenant_user_created_at_id ON llm_workflow_jobs(tenant_id, user_id, created_at, id);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at_id;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_status_created_at_id;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_created_at_id;
            CREATE INDEX idx_workflow_jobs_tenant_user_created_at ON llm_workflow_jobs(tenant_id, user_id, created_at);
            CREATE INDEX idx_workflow_jobs_tenant_status_created_at ON llm_workflow_jobs(tenant_id, status, created_at);
            CREATE INDEX idx_workflow_jobs_tenant_created_at ON llm_workflow_jobs(tenant_id, created_at);
            CREATE INDEX idx_workflow_jobs_workflow_name ON llm_workflow_jobs(workflow_name);
            CREATE INDEX idx_provider_usage_provider ON llm_provider_usage(provider);
            CREATE INDEX idx_provider_usage_model ON llm_provider_usage(model);
            CREATE INDEX idx_workflow_jobs_user_id ON llm_workflow_jobs(user_id);
            CREATE INDEX idx_workflow_jobs_status ON llm_workflow_jobs(status);
            DROP TABLE IF EXISTS llm_usage_user_monthly;
            DROP TABLE IF EXISTS llm_usage_user_daily;
            DROP TABLE IF EXISTS llm_usage_daily;
            DROP TABLE IF EXISTS llm_usage_rollup_state;
            """);
    }
}
