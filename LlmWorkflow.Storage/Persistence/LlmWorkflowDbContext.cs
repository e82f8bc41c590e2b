using Microsoft.EntityFrameworkCore;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Storage.Persistence;

/// <summary>EF Core context over the service's tables (snake_case, as in the requirement documents' SQL).</summary>
public sealed class LlmWorkflowDbContext(DbContextOptions<LlmWorkflowDbContext> options) : DbContext(options)
{
    public DbSet<WorkflowJob> Jobs => Set<WorkflowJob>();

    public DbSet<JobStep> JobSteps => Set<JobStep>();

    public DbSet<ProviderUsage> ProviderUsage => Set<ProviderUsage>();

    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();

    public DbSet<ExternalApiCacheEntry> ExternalApiCache => Set<ExternalApiCacheEntry>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(LlmWorkflowDbContext).Assembly);
        SnakeCaseNames.Apply(modelBuilder);
    }
}
