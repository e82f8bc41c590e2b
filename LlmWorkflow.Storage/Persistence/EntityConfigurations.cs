using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Persistence;

internal sealed class WorkflowJobConfiguration : IEntityTypeConfiguration<WorkflowJob>
{
    public void Configure(EntityTypeBuilder<WorkflowJob> job)
    {
        job.ToTable("llm_workflow_jobs");
        job.HasKey(j => j.Id);
        job.Property(j => j.Id).HasDefaultValueSql("gen_random_uuid()");
        job.Property(j => j.CeleryTaskId).HasMaxLength(255);
        job.Property(j => j.WorkflowName).HasMaxLength(100);
        job.Property(j => j.WebhookSecret).HasMaxLength(1000);
        job.Property(j => j.TenantId).HasMaxLength(100);
        job.Property(j => j.UserId).HasMaxLength(255);
        job.Property(j => j.Username).HasMaxLength(255);
        job.Property(j => j.Action).HasMaxLength(255);
        job.Property(j => j.Status).HasMaxLength(50).HasConversion(s => s.ToWire(), s => ParseStatus(s));
        job.Property(j => j.StaleReason).HasMaxLength(100);
        job.Property(j => j.CurrentStepId).HasMaxLength(200);
        job.Property(j => j.CurrentStepName).HasMaxLength(255);
        job.Property(j => j.IdempotencyKey).HasMaxLength(255);
        job.Property(j => j.IdempotencyFingerprint).HasMaxLength(64).IsFixedLength();
        job.Property(j => j.IdempotentResponse).HasColumnType("json");
        job.Property(j => j.LeaseOwner).HasMaxLength(200);
        job.Property(j => j.TraceId).HasMaxLength(32);
        job.Property(j => j.WorkerId).HasMaxLength(200);
        job.Ignore(j => j.DefinitionHash);
        job.Property(j => j.LegacyDefinitionHash).HasColumnName("definition_hash").HasMaxLength(64).IsFixedLength();
        job.Property(j => j.ForkedFromStep).HasMaxLength(255);
        job.Property(j => j.ConcurrencyKey).HasMaxLength(600);
        job.Property(j => j.ServiceTier).HasMaxLength(20).HasDefaultValue(Engine.Llm.ServiceTiers.Standard);
        job.Property(j => j.CostUsd).HasPrecision(10, 6);
        job.Property(j => j.BudgetUsd).HasPrecision(10, 6);
        job.Property(j => j.InputData).HasColumnType("jsonb");
        job.Property(j => j.ResultData).HasColumnType("jsonb");
        job.Property(j => j.ErrorData).HasColumnType("jsonb");
        job.Property(j => j.PreviousAttempts).HasColumnType("jsonb");
        job.Property(j => j.WaitData).HasColumnType("jsonb");
        job.Property(j => j.AttemptTraces).HasColumnType("jsonb");
        job.Property(j => j.QueuedAt).HasDefaultValueSql("now()");
        job.Property(j => j.CreatedAt).HasDefaultValueSql("now()");
        job.Property(j => j.UpdatedAt).HasDefaultValueSql("now()");

        job.HasIndex(j => j.CeleryTaskId).IsUnique().HasDatabaseName("idx_workflow_jobs_celery_task");
        job.HasIndex(j => j.CreatedAt).HasDatabaseName("idx_workflow_jobs_created_at");
        job.HasIndex(j => j.IsStale).HasFilter("is_stale = TRUE").HasDatabaseName("idx_workflow_jobs_stale");
        job.HasIndex(j => new { j.Status, j.CreatedAt }).HasDatabaseName("idx_workflow_jobs_status_created_at");
        job.HasIndex(j => new { j.UserId, j.CreatedAt }).HasFilter("user_id IS NOT NULL").HasDatabaseName("idx_workflow_jobs_user_created_at");
        job.HasIndex(j => new { j.TenantId, j.UserId, j.IdempotencyKey }).IsUnique().AreNullsDistinct(false)
            .HasFilter("idempotency_key IS NOT NULL").HasDatabaseName("idx_workflow_jobs_tenant_idempotency");
        job.HasIndex(j => new { j.TenantId, j.CreatedAt, j.Id }).HasDatabaseName("idx_workflow_jobs_tenant_created_at_id");
        job.HasIndex(j => new { j.TenantId, j.Status, j.CreatedAt, j.Id }).HasDatabaseName("idx_workflow_jobs_tenant_status_created_at_id");
        job.HasIndex(j => new { j.TenantId, j.UserId, j.CreatedAt, j.Id }).HasFilter("user_id IS NOT NULL").HasDatabaseName("idx_workflow_jobs_tenant_user_created_at_id");
        job.HasIndex(j => j.LeaseExpiresAt).HasFilter("status = 'processing'").HasDatabaseName("idx_workflow_jobs_lease");
        job.HasIndex(j => j.DispatchedAt).HasFilter("status = 'queued'").HasDatabaseName("idx_workflow_jobs_queued");
        job.HasIndex(j => j.RunAt).HasFilter("status IN ('scheduled', 'waiting')").HasDatabaseName("idx_workflow_jobs_due");
        job.HasIndex(j => j.StartBy)
            .HasFilter("start_by IS NOT NULL AND started_at IS NULL AND status IN ('pending', 'queued', 'scheduled', 'waiting')")
            .HasDatabaseName("idx_workflow_jobs_start_by");
    }

    private static JobStatus ParseStatus(string text) =>
        JobStatusNames.TryParse(text, out var status) ? status : throw new InvalidOperationException($"Unknown job status '{text}' in llm_workflow_jobs.");
}

internal sealed class JobStepConfiguration : IEntityTypeConfiguration<JobStep>
{
    public void Configure(EntityTypeBuilder<JobStep> step)
    {
        step.ToTable("llm_job_steps");
        step.HasKey(s => s.Id);
        step.Property(s => s.Id).HasDefaultValueSql("gen_random_uuid()");
        step.Property(s => s.StepKey).HasMaxLength(300);
        step.Property(s => s.StepId).HasMaxLength(200);
        step.Property(s => s.ParentStepId).HasMaxLength(200);
        step.Property(s => s.Branch).HasMaxLength(200);
        step.Property(s => s.DisplayName).HasMaxLength(255);
        step.Property(s => s.StepType).HasMaxLength(50);
        step.Property(s => s.Status).HasMaxLength(50);
        step.Property(s => s.Provider).HasMaxLength(50);
        step.Property(s => s.Model).HasMaxLength(150);
        step.Property(s => s.CostUsd).HasPrecision(10, 6);
        step.Property(s => s.Output).HasColumnType("jsonb");
        step.Property(s => s.Error).HasColumnType("jsonb");
        step.Property(s => s.Input).HasColumnType("jsonb");
        step.Property(s => s.CreatedAt).HasDefaultValueSql("now()");
        step.HasOne<WorkflowJob>().WithMany().HasForeignKey(s => s.JobId).OnDelete(DeleteBehavior.Cascade);
        step.HasIndex(s => new { s.JobId, s.StepKey, s.JobAttempt }).IsUnique().HasDatabaseName("idx_job_steps_job_step_key");
    }
}

internal sealed class ProviderUsageConfiguration : IEntityTypeConfiguration<ProviderUsage>
{
    public void Configure(EntityTypeBuilder<ProviderUsage> usage)
    {
        usage.ToTable("llm_provider_usage");
        usage.HasKey(u => u.Id);
        usage.Property(u => u.Id).HasDefaultValueSql("gen_random_uuid()");
        usage.Property(u => u.Provider).HasMaxLength(50);
        usage.Property(u => u.Model).HasMaxLength(100);
        usage.Property(u => u.CostUsd).HasPrecision(10, 6);
        usage.Property(u => u.Metadata).HasColumnType("jsonb");
        usage.Property(u => u.CreatedAt).HasDefaultValueSql("now()");
        usage.Property(u => u.TenantId).HasMaxLength(100);
        usage.Property(u => u.WorkflowName).HasMaxLength(100);
        usage.Property(u => u.UserId).HasMaxLength(255);
        usage.Property(u => u.Username).HasMaxLength(255);
        // No foreign key: a deleted job's calls outlive it until the usage retention (migration UsageOutlivesJobs).
        usage.HasIndex(u => u.JobId).HasDatabaseName("idx_provider_usage_job_id");
        usage.HasIndex(u => u.CreatedAt).HasDatabaseName("idx_provider_usage_created_at");
    }
}

internal sealed class WebhookAttemptConfiguration : IEntityTypeConfiguration<WebhookAttempt>
{
    public void Configure(EntityTypeBuilder<WebhookAttempt> attempt)
    {
        attempt.ToTable("llm_webhook_attempts");
        attempt.HasKey(a => a.Id);
        attempt.Property(a => a.Id).HasDefaultValueSql("gen_random_uuid()");
        attempt.Property(a => a.EventId).HasMaxLength(100);
        attempt.Property(a => a.EventType).HasMaxLength(100);
        attempt.Property(a => a.State).HasMaxLength(30);
        attempt.Property(a => a.Payload).HasColumnType("jsonb");
        attempt.Property(a => a.AttemptedAt).HasDefaultValueSql("now()");
        attempt.Property(a => a.CreatedAt).HasDefaultValueSql("now()");
        // No foreign key: a deleted job's pending workflow.cancelled attempts outlive it (migration DeletedJobs).
        attempt.HasIndex(a => a.JobId).HasDatabaseName("idx_webhook_attempts_job_id");
        attempt.HasIndex(a => a.HttpStatus).HasDatabaseName("idx_webhook_attempts_status");
        attempt.HasIndex(a => a.NextRetryAt).HasFilter("next_retry_at IS NOT NULL").HasDatabaseName("idx_webhook_attempts_next_retry");
        attempt.HasIndex(a => a.State).HasDatabaseName("idx_webhook_attempts_state");
    }
}

internal sealed class ExternalApiCacheConfiguration : IEntityTypeConfiguration<ExternalApiCacheEntry>
{
    public void Configure(EntityTypeBuilder<ExternalApiCacheEntry> entry)
    {
        entry.ToTable("external_api_cache");
        entry.HasKey(e => e.CacheKey);
        entry.Property(e => e.CacheKey).HasMaxLength(128);
        entry.Property(e => e.Service).HasMaxLength(100);
        entry.Property(e => e.Operation).HasMaxLength(100);
        entry.Property(e => e.ResponseData).HasColumnType("jsonb");
        entry.Property(e => e.CreatedAt).HasDefaultValueSql("now()");
        entry.HasIndex(e => new { e.Service, e.Operation }).HasDatabaseName("idx_external_api_cache_service_operation");
        entry.HasIndex(e => e.ExpiresAt).HasDatabaseName("idx_external_api_cache_expires_at");
    }
}
