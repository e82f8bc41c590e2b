using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A job's service tier (<c>standard</c> or <c>flex</c>) and the deadline its flex calls may wait until. Expand-only:
/// the constant default makes the new column a catalog change (no table rewrite), and older jobs are standard.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261128100000_ServiceTier")]
internal sealed class ServiceTier : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs
                ADD COLUMN IF NOT EXISTS service_tier VARCHAR(20) NOT NULL DEFAULT 'standard',
                ADD COLUMN IF NOT EXISTS deadline TIMESTAMPTZ;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS deadline, DROP COLUMN IF EXISTS service_tier;");
    }
}
