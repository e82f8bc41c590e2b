using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A signal taken by a step that a rerun runs again is superseded: it stays in the inbox as history, but neither that
/// step's new attempt nor any other step takes it again, so a rerun at or before an approval or a wait asks anew (issue
/// 80). Expand-only: a nullable column without a default is a catalog change.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129030000_SupersededSignals")]
internal sealed class SupersededSignals : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("ALTER TABLE llm_job_signals ADD COLUMN IF NOT EXISTS superseded_at TIMESTAMPTZ;");
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("ALTER TABLE llm_job_signals DROP COLUMN IF EXISTS superseded_at;");
    }
}
