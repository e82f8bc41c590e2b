using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Storage.Persistence.Migrations;

/// <summary>
/// The documents' tables (001 + 002 migrations) with this service's additions. Written as SQL so it reads like the
/// requirement documents; <c>SchemaMatchesModelTests</c> keeps it in step with the EF model.
/// </summary>
[DbContext(typeof(LlmWorkflowDbContext))]
[Migration("20261121000000_InitialSchema")]
internal sealed class InitialSchema : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE llm_workflow_jobs (
                id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                celery_task_id VARCHAR(255) NOT NULL,
                workflow_name VARCHAR(100) NOT NULL,
                priority INTEGER NOT NULL DEFAULT 0,
                webhook_url TEXT,
                webhook_secret VARCHAR(255),
                user_id VARCHAR(255),
                username VARCHAR(255),
                action VARCHAR(255),
                status VARCHAR(50) NOT NULL DEFAULT 'pending',
                input_data JSONB NOT NULL,
                result_data JSONB,
                error_message TEXT,
                error_data JSONB,
                queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                dispatched_at TIMESTAMPTZ,
                started_at TIMESTAMPTZ,
                completed_at TIMESTAMPTZ,
                duration_ms INTEGER,
                retry_count INTEGER NOT NULL DEFAULT 0,
                max_retries INTEGER NOT NULL DEFAULT 3,
                is_stale BOOLEAN NOT NULL DEFAULT FALSE,
                stale_reason VARCHAR(100),
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                current_step_id VARCHAR(200),
                current_step_name VARCHAR(255),
                progress_percent INTEGER NOT NULL DEFAULT 0,
                idempotency_key VARCHAR(255),
                lease_owner VARCHAR(200),
                lease_expires_at TIMESTAMPTZ,
                attempt INTEGER NOT NULL DEFAULT 0,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                total_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd DECIMAL(10, 6) NOT NULL DEFAULT 0,
                budget_usd DECIMAL(10, 6),
                debug_mode BOOLEAN NOT NULL DEFAULT FALSE,
                webhook_events TEXT[],
                cancel_requested_at TIMESTAMPTZ
            );
            CREATE UNIQUE INDEX idx_workflow_jobs_celery_task ON llm_workflow_jobs(celery_task_id);
            CREATE INDEX idx_workflow_jobs_status ON llm_workflow_jobs(status);
            CREATE INDEX idx_workflow_jobs_user_id ON llm_workflow_jobs(user_id);
            CREATE INDEX idx_workflow_jobs_workflow_name ON llm_workflow_jobs(workflow_name);
            CREATE INDEX idx_workflow_jobs_created_at ON llm_workflow_jobs(created_at);
            CREATE INDEX idx_workflow_jobs_stale ON llm_workflow_jobs(is_stale) WHERE is_stale = TRUE;
            CREATE INDEX idx_workflow_jobs_status_created_at ON llm_workflow_jobs(status, created_at);
            CREATE INDEX idx_workflow_jobs_user_created_at ON llm_workflow_jobs(user_id, created_at);
            CREATE UNIQUE INDEX idx_workflow_jobs_idempotency ON llm_workflow_jobs(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE INDEX idx_workflow_jobs_lease ON llm_workflow_jobs(lease_expires_at) WHERE status = 'processing';
            CREATE INDEX idx_workflow_jobs_queued ON llm_workflow_jobs(dispatched_at) WHERE status = 'queued';

            CREATE TABLE llm_job_steps (
                id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                step_key VARCHAR(300) NOT NULL,
                job_attempt INTEGER NOT NULL DEFAULT 1,
                step_id VARCHAR(200) NOT NULL,
                parent_step_id VARCHAR(200),
                branch VARCHAR(200),
                display_name VARCHAR(255) NOT NULL,
                step_type VARCHAR(50) NOT NULL,
                status VARCHAR(50) NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                duration_ms INTEGER,
                output JSONB,
                error JSONB,
                provider VARCHAR(50),
                model VARCHAR(150),
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd DECIMAL(10, 6),
                is_checkpoint BOOLEAN NOT NULL DEFAULT FALSE,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX idx_job_steps_job_step_key ON llm_job_steps(job_id, step_key, job_attempt);

            CREATE TABLE llm_webhook_attempts (
                id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                job_id UUID NOT NULL REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                event_id VARCHAR(100) NOT NULL,
                event_type VARCHAR(100) NOT NULL,
                attempt_number INTEGER NOT NULL,
                webhook_url TEXT NOT NULL,
                payload JSONB NOT NULL,
                http_status INTEGER,
                response_body TEXT,
                error_message TEXT,
                attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                duration_ms INTEGER,
                next_retry_at TIMESTAMPTZ,
                state VARCHAR(30) NOT NULL DEFAULT 'pending',
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX idx_webhook_attempts_job_id ON llm_webhook_attempts(job_id);
            CREATE INDEX idx_webhook_attempts_status ON llm_webhook_attempts(http_status);
            CREATE INDEX idx_webhook_attempts_next_retry ON llm_webhook_attempts(next_retry_at) WHERE next_retry_at IS NOT NULL;
            CREATE INDEX idx_webhook_attempts_state ON llm_webhook_attempts(state);

            CREATE TABLE llm_provider_usage (
                id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
                job_id UUID REFERENCES llm_workflow_jobs(id) ON DELETE CASCADE,
                provider VARCHAR(50) NOT NULL,
                model VARCHAR(100) NOT NULL,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                total_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd DECIMAL(10, 6) NOT NULL DEFAULT 0,
                duration_ms INTEGER,
                metadata JSONB,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE INDEX idx_provider_usage_job_id ON llm_provider_usage(job_id);
            CREATE INDEX idx_provider_usage_provider ON llm_provider_usage(provider);
            CREATE INDEX idx_provider_usage_model ON llm_provider_usage(model);
            CREATE INDEX idx_provider_usage_created_at ON llm_provider_usage(created_at);

            CREATE TABLE external_api_cache (
                cache_key VARCHAR(128) PRIMARY KEY,
                service VARCHAR(100) NOT NULL,
                operation VARCHAR(100) NOT NULL,
                response_data JSONB NOT NULL,
                hit_count INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                expires_at TIMESTAMPTZ NOT NULL
            );
            CREATE INDEX idx_external_api_cache_service_operation ON external_api_cache(service, operation);
            CREATE INDEX idx_external_api_cache_expires_at ON external_api_cache(expires_at);
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS external_api_cache CASCADE;
            DROP TABLE IF EXISTS llm_provider_usage CASCADE;
            DROP TABLE IF EXISTS llm_webhook_attempts CASCADE;
            DROP TABLE IF EXISTS llm_job_steps CASCADE;
            DROP TABLE IF EXISTS llm_workflow_jobs CASCADE;
            """);
    }
}
