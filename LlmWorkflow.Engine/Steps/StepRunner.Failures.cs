using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Expressions;

namespace LlmWorkflow.Engine.Steps;

/// <summary>
/// A step that failed: its error, whether on_error retries it, what its policy makes of it, and the errors of a step
/// that timed out or whose checkpoint could not be stored.
/// </summary>
internal sealed partial class StepRunner
{
    /// <summary>The error of a step that did not finish within its <c>timeout_seconds</c>.</summary>
    private static WorkflowException TimedOut(StepDefinition step, double seconds)
    {
        // Calls to third parties time out on their side of the wire; our own work timing out is ours.
        var category = step.Type is StepTypes.Llm or StepTypes.ExternalApi ? ErrorCategory.ExternalError : ErrorCategory.SystemError;
        return new WorkflowException(new WorkflowError
        {
            Type = "timeout",
            Category = category,
            Message = $"Step \"{step.Id}\" did not finish within {seconds} s.",
            Retryable = category == ErrorCategory.ExternalError,
            StepId = step.Id,
            Details = new JsonObject { ["timeout_seconds"] = seconds },
        });
    }

    /// <summary>The record of a step whose checkpoint could not be written: failed with the write's cause.</summary>
    private static StepRecord NotStored(StepRecord record, Exception cause) => record with
    {
        Status = StepStatus.Failed,
        Output = null,
        Error = new WorkflowError
        {
            Type = "checkpoint_write_failed",
            Category = ErrorCategory.SystemError,
            Message = $"The output of step \"{record.StepId}\" could not be stored: {cause.Message}",
            StepId = record.StepId,
        },
    };

    private static WorkflowError Classify(Exception exception, StepDefinition step)
    {
        var error = exception switch
        {
            WorkflowException workflow => workflow.Error,
            ExpressionSyntaxException syntax => new WorkflowError
            {
                Type = "expression_syntax",
                Category = ErrorCategory.ConfigError,
                Message = syntax.Message,
            },
            _ => new WorkflowError
            {
                Type = "internal_error",
                Category = ErrorCategory.SystemError,
                Message = $"Step \"{step.Id}\" failed unexpectedly: {exception.Message}",
            },
        };
        var details = error.Details?.DeepClone().AsObject() ?? [];
        details.TryAdd("step_type", step.Type);
        details.TryAdd("config", step.Config.DeepClone());
        return ErrorSuggestions.WithDefaults(ErrorSanitizer.Sanitize(error with { StepId = error.StepId ?? step.Id, Details = details }));
    }

    /// <summary>Only failures that can go away on their own are retried; bad input or configuration will fail again.</summary>
    /// <remarks>Document 001's taxonomy: only EXTERNAL_ERROR is retryable; SYSTEM_ERROR (our own failure) is not.
    /// An answer refused for its size would be refused again after being paid again, so it is not retried.</remarks>
    private static bool IsWorthRetrying(WorkflowError error) =>
        error.Type != Llm.LlmGateway.AnswerTooLargeType
        && (error.Category is ErrorCategory.ExternalError || (error.Retryable && error.Category is not ErrorCategory.SystemError));

    /// <summary>The budget stop ends the run whatever the step's on_error says.</summary>
    private static StepStatus OutcomeOf(OnErrorPolicy policy, WorkflowError error) => policy.Mode switch
    {
        _ when error.Type == BudgetGuard.BudgetExceededType => StepStatus.Failed,
        OnErrorMode.Continue => StepStatus.ContinuedAfterError,
        OnErrorMode.Default => StepStatus.Defaulted,
        _ => StepStatus.Failed,
    };
}
