using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Step rows keep what the step was given: <c>input</c> (its resolved parameters or template variables, secrets
/// redacted, capped) and <c>rendered_prompt</c> (an llm step's messages as sent, capped). Jobs keep
/// <c>previous_attempts</c>: each attempt a retry ended (status, error, timings), which the retry used to overwrite.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261122180000_StepInputsAndAttemptHistory")]
internal sealed class StepInputsAndAttemptHistory : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_job_steps ADD COLUMN input JSONB;
            ALTER TABLE llm_job_steps ADD COLUMN rendered_prompt TEXT;
            ALTER TABLE llm_workflow_jobs ADD COLUMN previous_attempts JSONB;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_job_steps DROP COLUMN IF EXISTS input;
            ALTER TABLE llm_job_steps DROP COLUMN IF EXISTS rendered_prompt;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS previous_attempts;
            """);
    }
}
