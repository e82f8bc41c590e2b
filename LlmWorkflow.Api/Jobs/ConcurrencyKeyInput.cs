using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Api.Jobs;

/// <summary>A submission's concurrency key (admission's <c>concurrency</c> of a workflow, docs/ADMISSION.md).</summary>
internal static class ConcurrencyKeyInput
{
    /// <summary>
    /// The job's concurrency key, scoped by tenant and workflow (<c>tenant/workflow/key</c>), when its workflow declares
    /// <c>concurrency</c>; a key that resolves to nothing or is too long is a problem naming <c>input_data</c>.
    /// </summary>
    public static string? KeyOf(JobSubmission submission, WorkflowDefinition workflow, ref IReadOnlyList<SubmissionProblem> problems)
    {
        if (workflow.Concurrency is not { } concurrency)
        {
            return null;
        }

        var context = WorkflowConcurrency.KeyContext(submission.UserId, submission.Username, submission.Action, submission.Priority);
        var (key, problem) = concurrency.Resolve(submission.InputData, context);
        if (problem is not null)
        {
            problems = [.. problems, new SubmissionProblem("input_data", problem)];
            return null;
        }

        return WorkflowConcurrency.Scoped(submission.TenantId, workflow.Name, key!);
    }
}
