namespace LlmWorkflow.Engine.Execution;

/// <summary>What to tell the caller to do about each error type the engine raises.</summary>
public static class ErrorSuggestions
{
    private static readonly Dictionary<string, string[]> ByType = new(StringComparer.Ordinal)
    {
        ["timeout"] = ["Retry the job; the step may succeed when the service is less busy.", "Raise the step's timeout_seconds if it routinely needs longer."],
        ["workflow_timeout"] = ["Raise the workflow's timeout_seconds.", "Split long work into several jobs."],
        ["budget_exceeded"] = ["Raise the job's budget_usd when you submit it (or the workflow's max_cost_usd).", "Lower max_tokens or use a cheaper model."],
        ["cancelled"] = ["Submit the job again if the cancellation was unintended."],
        ["missing_value"] = ["Check the ${...} path against the input and the outputs of earlier steps.", "Append ? to the path (${input.x?}) when the value is optional."],
        ["expression_syntax"] = ["Run the validator (llmwf validate) to see every malformed expression."],
        ["for_each_items_not_array"] = ["Point items at an array, e.g. ${steps.search.output.results}."],
        ["invalid_prompt"] = ["Run the validator to list missing prompt files and includes."],
        ["missing_model"] = ["Set config.model or model in the prompt file's front matter."],
        ["invalid_step_config"] = ["Run the validator (llmwf validate) on the workflow file."],
        ["llm_not_configured"] = ["Register an LLM gateway in the worker.", "Check the provider API keys."],
        ["external_not_configured"] = ["Register the external service gateway in the worker."],
        ["json_parse_error"] = ["Ask for JSON explicitly in the prompt.", "Add on_error retry to the step."],
        ["json_schema_mismatch"] = ["List the required keys in the prompt.", "Add on_error retry to the step."],
        ["invalid_input"] = ["Check the transform's input with a dry run.", "Add on_error default to tolerate bad input."],
        ["parse_error"] = ["Check the transform's input with a dry run.", "Add on_error retry when the text comes from a model."],
        ["unknown_step_type"] = ["Use one of: llm, external_api, transform, conditional, parallel, for_each."],
        ["internal_error"] = ["Retry the job; report it if it happens again."],
    };

    public static IReadOnlyList<string> For(string errorType) => ByType.GetValueOrDefault(errorType) ?? [];

    /// <summary>Adds the standard suggestions when the error carries none of its own.</summary>
    public static WorkflowError WithDefaults(WorkflowError error) =>
        error.Suggestions.Count > 0 ? error : error with { Suggestions = For(error.Type) };
}
