using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The agent step's durable state (docs/AGENTS.md): its messages stored once per job by content address, its model
/// turns (each naming the turn it extends and the message addresses it added), and its tool ledger keyed by job, step,
/// turn and call id with the call's idempotency key. A job's rows go with the job.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261129010000_AgentState")]
internal sealed class AgentState : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE IF NOT EXISTS llm_agent_messages (
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                hash CHAR(64) NOT NULL,
                content TEXT NOT NULL,
                PRIMARY KEY (job_id, hash)
            );
            CREATE TABLE IF NOT EXISTS llm_agent_turns (
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                step_key TEXT NOT NULL,
                turn INTEGER NOT NULL,
                base_turn INTEGER,
                added_hashes TEXT[] NOT NULL,
                response_hash CHAR(64) NOT NULL,
                provider VARCHAR(100) NOT NULL,
                model VARCHAR(255) NOT NULL,
                input_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                cost_usd NUMERIC(12, 6),
                duration_ms DOUBLE PRECISION NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (job_id, step_key, turn)
            );
            CREATE TABLE IF NOT EXISTS llm_agent_tool_calls (
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                step_key TEXT NOT NULL,
                turn INTEGER NOT NULL,
                call_id VARCHAR(255) NOT NULL,
                tool_name VARCHAR(64) NOT NULL,
                idempotency_key CHAR(64) NOT NULL,
                arguments JSONB NOT NULL,
                call_status VARCHAR(20) NOT NULL,
                result_hash CHAR(64),
                attempts INTEGER NOT NULL DEFAULT 1,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (job_id, step_key, turn, call_id)
            );
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE IF EXISTS llm_agent_tool_calls; DROP TABLE IF EXISTS llm_agent_turns; DROP TABLE IF EXISTS llm_agent_messages;");
    }
}
