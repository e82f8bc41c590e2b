using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Contracts;

/// <summary>The 404 answers, worded once. Another user's job is reported exactly like a missing one.</summary>
internal static class NotFoundProblems
{
    public static NotFoundProblem Job(Guid jobId) =>
        new(new ProblemDetails { Title = "Job not found", Detail = $"No job with id {jobId}.", Status = 404 });

    public static NotFoundProblem Schedule(Guid scheduleId) =>
        new(new ProblemDetails { Title = "Schedule not found", Detail = $"No schedule with id {scheduleId}.", Status = 404 });

    public static NotFoundProblem Workflow(string name) =>
        new(new ProblemDetails { Title = "Workflow not found", Detail = $"No workflow named '{name}'.", Status = 404 });
}
