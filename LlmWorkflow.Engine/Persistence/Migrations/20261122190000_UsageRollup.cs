using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Engine.Persistence.Migrations;

/// <summary>
/// The usage report's rollup (<see cref="Jobs.UsageRollup"/>): sums of <c>llm_provider_usage</c> per closed UTC day
/// ('d') and month ('m'), per dimension (model, workflow, user; key NULL for a job without user), and the first day
/// not rolled up yet. And the jobs list's two most used filters within a tenant get an index each that also gives
/// the list's order (newest first), so a page and its bounded count read only the rows they return.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122190000_UsageRollup")]
public sealed class UsageRollup : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_usage_rollup (
                granularity CHAR(1) NOT NULL CHECK (granularity IN ('d', 'm')),
                period DATE NOT NULL,
                dimension VARCHAR(10) NOT NULL CHECK (dimension IN ('model', 'workflow', 'user')),
                key VARCHAR(255),
                calls BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                total_tokens BIGINT NOT NULL,
                cost_usd NUMERIC(20, 6) NOT NULL
            );
            CREATE UNIQUE INDEX idx_usage_rollup_period_key ON llm_usage_rollup(granularity, period, dimension, key) NULLS NOT DISTINCT;

            CREATE TABLE llm_usage_rollup_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                rolled_through DATE NOT NULL
            );

            CREATE INDEX idx_workflow_jobs_tenant_status_created_at ON llm_workflow_jobs(tenant_id, status, created_at);
            CREATE INDEX idx_workflow_jobs_tenant_user_created_at ON llm_workflow_jobs(tenant_id, user_id, created_at);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_user_created_at;
            DROP INDEX IF EXISTS idx_workflow_jobs_tenant_status_created_at;
            DROP TABLE IF EXISTS llm_usage_rollup_state;
            DROP TABLE IF EXISTS llm_usage_rollup;
            """);
    }
}
