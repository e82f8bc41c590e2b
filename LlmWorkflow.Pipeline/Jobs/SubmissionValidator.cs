using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Pipeline.Webhooks;

namespace LlmWorkflow.Pipeline.Jobs;

/// <summary>Field-level checks of a submission against its workflow; every problem names its field.</summary>
public static class SubmissionValidator
{
    public const int MaxUserFieldLength = 255;

    /// <summary>The largest budget the budget_usd column (DECIMAL(10, 6)) holds.</summary>
    public const decimal MaxBudgetUsd = 9999.999999m;

    /// <param name="allowPrivateWebhookHosts">Accept webhook URLs on loopback/private addresses (<c>Webhooks:AllowPrivateNetworks</c>).</param>
    public static IReadOnlyList<SubmissionProblem> Validate(JobSubmission submission, WorkflowDefinition workflow, bool allowPrivateWebhookHosts = false)
    {
        var problems = new List<SubmissionProblem>();

        if (submission.Priority is < PriorityBands.MinPriority or > PriorityBands.MaxPriority)
        {
            problems.Add(new("priority", $"Priority must be between {PriorityBands.MinPriority} and {PriorityBands.MaxPriority} (higher runs first); got {submission.Priority}."));
        }

        CheckLength(problems, "user_id", submission.UserId);
        CheckLength(problems, "username", submission.Username);
        CheckLength(problems, "action", submission.Action);
        CheckLength(problems, "webhook_secret", submission.WebhookSecret);
        CheckLength(problems, "Idempotency-Key", submission.IdempotencyKey);

        if (submission.WebhookUrl is not null && WebhookUrlPolicy.Check(submission.WebhookUrl, allowPrivateWebhookHosts) is { } webhookProblem)
        {
            problems.Add(new("webhook_url", webhookProblem));
        }

        if (submission.BudgetUsd is < 0 or > MaxBudgetUsd)
        {
            problems.Add(new("budget_usd", $"budget_usd must be between 0 and {MaxBudgetUsd}."));
        }

        if (workflow.InputSchema is { } schema)
        {
            foreach (var problem in InputSchemaValidator.Validate(schema, submission.InputData))
            {
                var field = string.IsNullOrEmpty(problem.Path) || problem.Path == "$"
                    ? "input_data"
                    : "input_data." + problem.Path.TrimStart('$', '.');
                problems.Add(new(field, problem.Message));
            }
        }

        return problems;
    }

    private static void CheckLength(List<SubmissionProblem> problems, string field, string? value)
    {
        if (value is { Length: > MaxUserFieldLength })
        {
            problems.Add(new(field, $"{field} must be at most {MaxUserFieldLength} characters."));
        }
    }
}
