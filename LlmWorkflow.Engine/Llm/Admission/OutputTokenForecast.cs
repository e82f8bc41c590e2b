namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// A call's expected output tokens, shared by the token admission and the dollar budgets: the step's p95 of past
/// answers with the model when known, else max_tokens, else the default; never above max_tokens.
/// </summary>
public static class OutputTokenForecast
{
    /// <param name="onHistoryError">Told when the history could not be read (the forecast then falls back).</param>
    public static async ValueTask<int> ForecastAsync(
        IOutputTokenHistory? history, string? workflowName, string? stepId, ModelId model, int? maxTokens, int defaultOutputTokens,
        Action<Exception>? onHistoryError, CancellationToken cancellationToken)
    {
        int? learned = null;
        if (history is not null && workflowName is not null && stepId is not null)
        {
            try
            {
                learned = await history.P95Async(workflowName, stepId, model.ToString(), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                onHistoryError?.Invoke(ex);
            }
        }

        var estimate = learned ?? maxTokens ?? defaultOutputTokens;
        return maxTokens is { } cap ? Math.Min(estimate, cap) : estimate;
    }
}
