namespace LlmWorkflow.Engine.Execution;

/// <summary>Thrown by steps, providers and services to fail with a classified <see cref="WorkflowError"/>.</summary>
public sealed class WorkflowException : Exception
{
    public WorkflowException(WorkflowError error, Exception? inner = null)
        : base(error.Message, inner) => Error = error;

    public WorkflowError Error { get; }

    public static WorkflowException Config(string type, string message, params string[] suggestions) =>
        new(new WorkflowError { Type = type, Category = ErrorCategory.ConfigError, Message = message, Suggestions = suggestions });

    public static WorkflowException User(string type, string message, params string[] suggestions) =>
        new(new WorkflowError { Type = type, Category = ErrorCategory.UserError, Message = message, Suggestions = suggestions });

    public static WorkflowException External(string type, string message, bool retryable, double? retryAfterSeconds = null, Exception? inner = null) =>
        new(new WorkflowError { Type = type, Category = ErrorCategory.ExternalError, Message = message, Retryable = retryable, RetryAfterSeconds = retryAfterSeconds }, inner);

    public static WorkflowException System(string type, string message, Exception? inner = null) =>
        new(new WorkflowError { Type = type, Category = ErrorCategory.SystemError, Message = message }, inner);
}
