using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// Schedules: a cron expression in a time zone that starts a job per tick. <c>llm_schedules.next_run_at</c> is the next
/// tick not yet decided (the ticker's due-time index); every decided tick is a row of <c>llm_schedule_ticks</c>, whose
/// primary key (schedule, tick time) makes a second decision of one tick impossible whatever the number of tickers.
/// A skipped tick is recorded with its reason; a row may stand for several ticks (<c>tick_count</c>) when ticks older
/// than the catch-up window are recorded as one. Jobs a schedule started carry its id (<c>schedule_id</c>, no foreign
/// key: a deleted schedule's jobs stay listable by it).
/// Expand-only: older replicas never read the new column.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261127120000_Schedules")]
internal sealed class Schedules : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE llm_workflow_jobs ADD COLUMN IF NOT EXISTS schedule_id UUID;
            CREATE INDEX IF NOT EXISTS idx_workflow_jobs_schedule ON llm_workflow_jobs(schedule_id, created_at) WHERE schedule_id IS NOT NULL;
            CREATE TABLE IF NOT EXISTS llm_schedules (
                id UUID PRIMARY KEY,
                tenant_id VARCHAR(100) NOT NULL,
                user_id VARCHAR(255),
                name VARCHAR(200) NOT NULL,
                workflow_name VARCHAR(100) NOT NULL,
                cron VARCHAR(200) NOT NULL,
                timezone VARCHAR(100) NOT NULL,
                input_data JSONB NOT NULL,
                priority INT NOT NULL DEFAULT 0,
                webhook_url TEXT,
                webhook_secret VARCHAR(1000),
                overlap VARCHAR(20) NOT NULL,
                catch_up VARCHAR(20) NOT NULL,
                paused BOOLEAN NOT NULL DEFAULT false,
                next_run_at TIMESTAMPTZ NOT NULL,
                idempotency_key VARCHAR(255),
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            );
            CREATE UNIQUE INDEX IF NOT EXISTS idx_schedules_idempotency ON llm_schedules(tenant_id, COALESCE(user_id, ''), idempotency_key)
                WHERE idempotency_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_schedules_next_run ON llm_schedules(next_run_at);
            CREATE INDEX IF NOT EXISTS idx_schedules_tenant ON llm_schedules(tenant_id, created_at);
            CREATE TABLE IF NOT EXISTS llm_schedule_ticks (
                schedule_id UUID NOT NULL REFERENCES llm_schedules(id) ON DELETE CASCADE,
                tick_at TIMESTAMPTZ NOT NULL,
                outcome VARCHAR(20) NOT NULL,
                reason VARCHAR(50),
                job_id UUID,
                tick_count INT NOT NULL DEFAULT 1,
                recorded_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (schedule_id, tick_at)
            );
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS llm_schedule_ticks;
            DROP TABLE IF EXISTS llm_schedules;
            DROP INDEX IF EXISTS idx_workflow_jobs_schedule;
            ALTER TABLE llm_workflow_jobs DROP COLUMN IF EXISTS schedule_id;
            """);
    }
}
