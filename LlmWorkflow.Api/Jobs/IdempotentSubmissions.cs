using System.Text.Json;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Api.Jobs;

/// <summary>
/// A submission's <c>Idempotency-Key</c> (<see cref="IdempotentRequests"/>'s rules): the job that already holds the key,
/// the answer a repeat gets, and the answer kept on a new job's row for its repeats.
/// </summary>
public sealed class IdempotentSubmissions(IServiceProvider services)
{
    // The database context is taken from the request's scope only for an idempotency key: most submissions carry
    // none, and would otherwise rent (and reset) a pooled context for nothing.
    public Task<WorkflowJob?> FindAsync(JobSubmission submission, CancellationToken cancellationToken) =>
        services.GetRequiredService<LlmWorkflowDbContext>().Jobs.AsNoTracking().FirstOrDefaultAsync(
            j => j.IdempotencyKey == submission.IdempotencyKey && j.TenantId == submission.TenantId && j.UserId == submission.UserId,
            cancellationToken);

    /// <summary>Keeps a keyed job's answer as sent, so a repeat of the request gets these very bytes' worth of JSON.</summary>
    public static void KeepAnswer(WorkflowJob job, JobSubmission submission, JobAcceptedResponse accepted)
    {
        job.IdempotencyFingerprint = submission.RequestFingerprint;
        job.IdempotentResponse = JsonSerializer.Serialize(accepted, SubmitJsonContext.Default.JobAcceptedResponse);
    }

    /// <summary>
    /// The answer to a repeated Idempotency-Key: the first request's answer when this request is the same (its
    /// fingerprint), a key conflict when it is not. A job stored before answers were kept is answered from its row.
    /// </summary>
    public static SubmissionResult Repeat(WorkflowJob existing, JobSubmission submission)
    {
        if (submission.RequestFingerprint is { } fingerprint && !IdempotentRequests.SameRequest(existing.IdempotencyFingerprint, fingerprint))
        {
            return new SubmissionResult(null, Created: false, [], KeyConflict: true);
        }

        var original = existing.IdempotentResponse is { } stored
            ? JsonSerializer.Deserialize(stored, SubmitJsonContext.Default.JobAcceptedResponse)
            : existing.ToAccepted(0);
        return new SubmissionResult(existing, Created: false, [], original);
    }
}
