using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Data Protection's key ring (shared by API and Worker), and room for encrypted per-job webhook secrets:
/// a protected 255-character secret is about 440 characters.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122160000_DataProtectionKeys")]
internal sealed class DataProtectionKeys : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_data_protection_keys (
                id BIGSERIAL PRIMARY KEY,
                friendly_name VARCHAR(200) NOT NULL,
                xml TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            ALTER TABLE llm_workflow_jobs ALTER COLUMN webhook_secret TYPE VARCHAR(1000);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_data_protection_keys;");
    }
}
