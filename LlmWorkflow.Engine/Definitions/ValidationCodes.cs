namespace LlmWorkflow.Engine.Definitions;

/// <summary>The stable codes <see cref="WorkflowValidator"/> reports.</summary>
public static class ValidationCodes
{
    public const string InvalidName = "invalid_name";
    public const string NoSteps = "no_steps";
    public const string InvalidTimeout = "invalid_timeout";
    public const string InvalidBudget = "invalid_budget";
    public const string InvalidStepId = "invalid_step_id";
    public const string DuplicateStepId = "duplicate_step_id";
    public const string UnknownStepType = "unknown_step_type";
    public const string InvalidOnError = "invalid_on_error";
    public const string MissingConfigProperty = "missing_config_property";
    public const string UnknownConfigProperty = "unknown_config_property";
    public const string InvalidConfigValue = "invalid_config_value";
    public const string InvalidModel = "invalid_model";
    public const string UnknownModel = "unknown_model";
    public const string MissingProviderKey = "missing_provider_key";
    public const string InvalidPromptSource = "invalid_prompt_source";
    public const string MissingPromptFile = "missing_prompt_file";
    public const string InvalidPrompt = "invalid_prompt";
    public const string UnknownExternalService = "unknown_external_service";
    public const string UnknownTransform = "unknown_transform";
    public const string InvalidTransformConfig = "invalid_transform_config";
    public const string InvalidExpression = "invalid_expression";
    public const string InvalidCondition = "invalid_condition";
    public const string UnknownStepReference = "unknown_step_reference";
    public const string ForwardReference = "forward_reference";
    public const string CircularReference = "circular_reference";
    public const string CrossBranchReference = "cross_branch_reference";
    public const string ForEachScopeReference = "for_each_scope_reference";
    public const string ItemOutsideForEach = "item_outside_for_each";
    public const string UnreachableSteps = "unreachable_steps";
    public const string DuplicateWorkflowName = "duplicate_workflow_name";
}
