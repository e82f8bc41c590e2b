using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmWorkflow.Api.Contracts;

/// <summary>The 404 answers, worded once. Another user's job is reported exactly like a missing one.</summary>
internal static class NotFoundProblems
{
    public static NotFound<ProblemDetails> Job(Guid jobId) =>
        TypedResults.NotFound(new ProblemDetails { Title = "Job not found", Detail = $"No job with id {jobId}.", Status = 404 });

    public static NotFound<ProblemDetails> Workflow(string name) =>
        TypedResults.NotFound(new ProblemDetails { Title = "Workflow not found", Detail = $"No workflow named '{name}'.", Status = 404 });
}
