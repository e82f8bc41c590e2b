using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>The last run of each scheduled maintenance task (stale cleanup, retention), for operators.</summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122150000_MaintenanceRuns")]
internal sealed class MaintenanceRuns : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_maintenance_runs (
                task VARCHAR(50) PRIMARY KEY,
                runner VARCHAR(200) NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL,
                affected INTEGER NOT NULL,
                details JSONB,
                error TEXT
            );
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_maintenance_runs;");
    }
}
