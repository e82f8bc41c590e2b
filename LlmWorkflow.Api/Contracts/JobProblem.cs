using System.ComponentModel;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Jobs;

namespace LlmWorkflow.Api.Contracts;

/// <summary>
/// The 404 and 410 answers of the job routes (status, cancel, retry): problem+json whose <c>status</c> is a string,
/// because callers read a job's status from that member (document 002's poller reads <c>status.status</c> from any
/// answer). A problem's <c>status</c> must be a number, and RFC 9457 (3.1) has consumers ignore a member of the wrong
/// type, so the string costs problem-details readers nothing; the HTTP status is in <c>http_status</c>.
/// </summary>
public sealed record JobProblem
{
    [Description("A URI naming the kind of problem.")]
    public required string Type { get; init; }

    public required string Title { get; init; }

    public required string Detail { get; init; }

    [Description("\"not_found\" (404) or, for a deleted job, \"failed\" (410): pollers that stop on completed/failed stop. Never a number.")]
    public required string Status { get; init; }

    [Description("The HTTP status code: 404 or 410.")]
    public required int HttpStatus { get; init; }

    [Description("The job id asked for; null when the path's id is not a UUID (then nothing was looked up).")]
    public required Guid? JobId { get; init; }

    [Description("Why there is no job to show, for pollers that show error_message.")]
    public required string ErrorMessage { get; init; }

    [Description("When the job was deleted (410); null on 404.")]
    public DateTimeOffset? DeletedAt { get; init; }

    [Description("The job's error object on 410 (type job_deleted, category USER_ERROR, not retryable); null on 404.")]
    public JobProblemError? Error { get; init; }

    public static JobProblem NotFound(Guid jobId) => NotFound(jobId, $"No job with id {jobId}.");

    /// <summary>A job route whose id is not a UUID: answered like a missing job, so pollers stop the same way.</summary>
    public static JobProblem MalformedId(string text) =>
        NotFound(null, $"'{Shorten(text)}' is not a job id: job ids are UUIDs, e.g. 3f2b8c1e-0d4a-4c7e-9b1a-2e5f6a7b8c9d.");

    private static JobProblem NotFound(Guid? jobId, string message) => new()
    {
        Type = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        Title = "Job not found",
        Detail = message,
        Status = "not_found",
        HttpStatus = StatusCodes.Status404NotFound,
        JobId = jobId,
        ErrorMessage = message,
    };

    // An id is echoed for the caller's benefit, but never a whole megabyte of it.
    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    public static JobProblem Gone(DeletedJob deleted)
    {
        var message = $"Job {deleted.JobId} was deleted at {deleted.DeletedAt:u} (a queued or running job is cancelled first); its results are gone.";
        return new JobProblem
        {
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.11",
            Title = "Job deleted",
            Detail = message,
            Status = "failed",
            HttpStatus = StatusCodes.Status410Gone,
            JobId = deleted.JobId,
            ErrorMessage = message,
            DeletedAt = deleted.DeletedAt,
            Error = new JobProblemError("job_deleted", "USER_ERROR", message, false),
        };
    }
}

/// <summary>The error object of a deleted job's 410, shaped like a failed job's <c>error</c>.</summary>
public sealed record JobProblemError(string Type, string Category, string Message, bool Retryable);

/// <summary>A <see cref="JobProblem"/> answer, declared in the OpenAPI document for 404 and 410.</summary>
public sealed class JobProblemResult(JobProblem problem) : IResult, IStatusCodeHttpResult, IValueHttpResult<JobProblem>, IValueHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => problem.HttpStatus;

    public JobProblem Value => problem;

    object? IValueHttpResult.Value => problem;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = problem.HttpStatus;
        return httpContext.Response.WriteAsJsonAsync(problem, options: null, contentType: ProblemResults.ContentType);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status404NotFound, typeof(JobProblem), [ProblemResults.ContentType]));
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status410Gone, typeof(JobProblem), [ProblemResults.ContentType]));
    }
}
