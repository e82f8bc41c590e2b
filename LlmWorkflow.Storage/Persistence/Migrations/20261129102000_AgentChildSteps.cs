using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The checkpoints of the child runs an agent's <c>workflow</c> tools start (docs/AGENTS.md): one row per finished
/// step of a child, keyed by the job, the tool call's idempotency key and the child's step key, with the step's output
/// and usage like an <c>llm_job_steps</c> checkpoint. A call resumed after a crash restores the child's finished steps
/// instead of paying them again. A job's rows go with the job.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129102000_AgentChildSteps")]
internal sealed class AgentChildSteps : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE IF NOT EXISTS llm_agent_child_steps (
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                call_key CHAR(64) NOT NULL,
                step_key TEXT NOT NULL,
                step_id TEXT NOT NULL,
                display_name TEXT NOT NULL,
                step_type TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL,
                duration_ms DOUBLE PRECISION NOT NULL,
                parent_step_id TEXT,
                branch TEXT,
                provider TEXT,
                model TEXT,
                input_tokens INTEGER,
                output_tokens INTEGER,
                cost_usd NUMERIC(12, 6),
                output JSONB,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (job_id, call_key, step_key)
            );
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_agent_child_steps;");
    }
}
