using LlmWorkflow.Storage.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace LlmWorkflow.Tests.Persistence;

/// <summary>
/// The EF context as the services configure it, for tests that migrate by hand: the migrations are SQL with no model
/// snapshot to compare against, so EF's pending-model-changes warning is ignored, as <c>AddLlmWorkflowCore</c> does.
/// </summary>
internal static class MigrationContext
{
    public static LlmWorkflowDbContext Create(string connectionString) =>
        new(new DbContextOptionsBuilder<LlmWorkflowDbContext>()
            .UseNpgsql(connectionString)
            .ConfigureWarnings(w => w.Ignore(RelationalEventId.PendingModelChangesWarning))
            .Options);
}
