namespace LlmWorkflow.Engine.Execution;

/// <summary>What to tell the caller to do about each error type the engine raises.</summary>
public static class ErrorSuggestions
{
    private static readonly Dictionary<string, string[]> ByType = new(StringComparer.Ordinal)
    {
        ["timeout"] = ["Retry the job; the step may succeed when the service is less busy.", "Raise the step's timeout_seconds if it routinely needs longer."],
        ["workflow_timeout"] = ["Raise the workflow's timeout_seconds.", "Split long work into several jobs."],
        ["budget_exceeded"] = ["Raise the job's budget_usd when you submit it (or the workflow's max_cost_usd).", "Lower max_tokens or use a cheaper model.",
            "With budget_check remaining the step and the rest of the job's forecast (remaining_forecast_usd) must fit; budget_check step checks each step alone."],
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
        ["schema_mismatch"] = ["The answer failed its json_schema after one repair turn: describe the shape in the prompt too (error.details.errors lists each path).", "Use a model that enforces schemas (OpenAI strict json_schema, Anthropic structured outputs).", "Add on_error retry to the step."],
        ["invalid_json_schema"] = ["Run the validator (llmwf validate): json_schema must be valid JSON Schema with local $ref only."],
        ["invalid_input"] = ["Check the transform's input with a dry run.", "Add on_error default to tolerate bad input."],
        ["parse_error"] = ["Check the transform's input with a dry run.", "Add on_error retry when the text comes from a model."],
        ["unknown_step_type"] = ["Use one of: llm, external_api, transform, conditional, parallel, for_each."],
        ["internal_error"] = ["Retry the job; report it if it happens again."],
    };

    /// <summary>
    /// One sentence per failure type for the operator who reads the error (the dashboard's error card, the API's
    /// <c>error.advice</c>): what to do now. Types not listed get their category's sentence (<see cref="AdviceFor"/>).
    /// </summary>
    private static readonly Dictionary<string, string> AdviceByType = new(StringComparer.Ordinal)
    {
        ["provider_unavailable"] = "The provider is failing (5xx or an open circuit): check the Providers view and the provider's status page, pause the workflow if the outage lasts, then retry the failed jobs by filter once its error rate falls.",
        ["rate_limited"] = "The provider is rate limiting: retry after retry_after seconds, lower concurrency or priority of bulk work, or raise the account's limits with the provider.",
        ["quota_exceeded"] = "The provider account's quota or credit is used up: top it up or raise its limit, then retry the failed jobs.",
        ["timeout"] = "The call did not answer in time: check the Providers view for a slow provider, then retry, or raise the step's timeout_seconds if it routinely needs longer.",
        ["connection_error"] = "The provider could not be reached: check the worker's network, DNS and the provider's base URL, then retry.",
        ["service_unavailable"] = "The external service is failing: check its status, then retry the failed jobs once it answers again.",
        ["stream_interrupted"] = "The answer broke off mid-stream: retry the job; if it keeps happening, check the Providers view for that model.",
        ["invalid_api_key"] = "The provider refused the API key: fix the key in the service's configuration and restart the workers, then retry.",
        ["missing_api_key"] = "No API key is set for the provider: set it in the service's configuration and restart the workers, then retry.",
        ["model_not_found"] = "The provider does not know the model: fix the model id in the workflow (or its fallback chain) and submit new jobs.",
        ["budget_exceeded"] = "The job hit its cost cap: raise budget_usd (or the workflow's max_cost_usd) or use a cheaper model, then submit again.",
        ["workflow_timeout"] = "The whole run took longer than the workflow allows: raise its timeout_seconds or split the work.",
        ["stale_job"] = "No worker finished the job in time (a worker died or the queue stalled): check the Queue & workers view, then retry.",
        ["checkpoint_write_failed"] = "The database refused a write during the run: check the database's health, then retry.",
        ["answer_too_large"] = "The model's answer was over the size limit: lower max_tokens or ask for a shorter answer; a retry would pay for the same answer again.",
        ["prompt_too_long"] = "The prompt is over the model's context: shorten the input or choose a model with a larger context.",
    };

    private static readonly Dictionary<string, string> AdviceByCategory = new(StringComparer.Ordinal)
    {
        ["EXTERNAL_ERROR"] = "A service the step calls failed: check it (the Providers view for LLMs), then retry the failed jobs.",
        ["CONFIG_ERROR"] = "The workflow or the service is misconfigured: fix the configuration named in the message; retrying unchanged fails again.",
        ["USER_ERROR"] = "The job's input or request is not valid for this workflow: fix it and submit a new job; a retry fails again.",
        ["SYSTEM_ERROR"] = "The service failed on its own: retry the job, and report it with the trace if it happens again.",
    };

    public static IReadOnlyList<string> For(string errorType) => ByType.GetValueOrDefault(errorType) ?? [];

    /// <summary>The one-sentence operator advice for an error type, else for its category (e.g. <c>EXTERNAL_ERROR</c>); null when neither is known.</summary>
    public static string? AdviceFor(string? errorType, string? category) =>
        (errorType is null ? null : AdviceByType.GetValueOrDefault(errorType))
        ?? (category is null ? null : AdviceByCategory.GetValueOrDefault(category));

    /// <summary>Adds the standard suggestions when the error carries none of its own.</summary>
    public static WorkflowError WithDefaults(WorkflowError error) =>
        error.Suggestions.Count > 0 ? error : error with { Suggestions = For(error.Type) };
}
