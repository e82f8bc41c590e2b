using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Worker.Jobs;

namespace LlmWorkflow.Worker.Admission;

/// <summary>Admission's part of the worker host's composition.</summary>
public static class AdmissionModuleExtensions
{
    /// <summary>Admission in a worker: the tenants' slot shares (checked at start) and the waker of jobs parked on a budget.</summary>
    public static IHostApplicationBuilder AddAdmission(this IHostApplicationBuilder builder)
    {
        if (TenantSlotShares.ProblemOf(builder.Configuration.GetSection(WorkerOptions.Section)["TenantSlotShares"]) is { } sharesProblem)
        {
            throw new InvalidOperationException(sharesProblem);
        }

        builder.Services.AddSingleton<TenantSlotShares>();
        builder.Services.AddHostedService<BudgetWaiterWaker>();
        return builder;
    }
}
