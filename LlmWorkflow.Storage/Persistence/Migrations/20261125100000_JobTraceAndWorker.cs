using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// A job's trace (the W3C trace id its submit request started) and the worker that ran or runs it, kept after the
/// job ends, so the status API and the dashboard can link a job to its trace and its worker.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261125100000_JobTraceAndWorker")]
internal sealed class JobTraceAndWorker : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN trace_id VARCHAR(32), ADD COLUMN worker_id VARCHAR(200);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS worker_id, DROP COLUMN IF EXISTS trace_id;
            """);
    }
}
