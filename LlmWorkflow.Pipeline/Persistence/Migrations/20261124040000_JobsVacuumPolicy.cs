using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Pipeline.Persistence.Migrations;

/// <summary>
/// The jobs table is vacuumed by how much it churned, not by its size. Every job leaves two dead row versions (the
/// claim and the finish change <c>status</c>, which indexes hold, so neither update is HOT). By default autovacuum
/// waits for dead rows worth 20 % of the table (2 million at 10 million jobs) and, below 2 % of its pages, skips the
/// index pass; until an index pass, the pages of the newest jobs are not all-visible, and the job list's count of the
/// newest thousand reads the table for each index entry instead of the index alone (bench/README.md, "The job list at
/// 10 million jobs"). A fixed threshold of 2,000 dead rows (the claims and finishes of about the 1,000 jobs the list
/// counts) with the index pass always on keeps that count in the index whatever the table's size.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261124040000_JobsVacuumPolicy")]
public sealed class JobsVacuumPolicy : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs SET (
                autovacuum_vacuum_scale_factor = 0,
                autovacuum_vacuum_threshold = 2000,
                vacuum_index_cleanup = on);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("ALTER TABLE llm_workflow_jobs RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, vacuum_index_cleanup);");
    }
}
