using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// Why a "budget" wait waits, in the words operators read (<c>waiting_for.reason</c>, the <c>run_waiting</c> event):
/// <c>paused</c>, <c>tokens</c>, <c>requests</c>, <c>dollars</c>, <c>share</c>, <c>outage</c>, <c>priority</c> (kept out
/// of the priority band); and, where none of those fits, <c>rate_limited</c> (the provider said 429),
/// <c>concurrency</c>, <c>zero_budget</c>, <c>flex_unavailable</c>.
/// </summary>
public static class WaitReasons
{
    public static string? Reason(RunWait wait) => (string?)wait.Budget?["reason"] switch
    {
        null => null,
        "tokens" or "input_tokens" or "output_tokens" => "tokens",
        "fair_share" or "user_share" => "share",
        "usd" or "usd_reserved" => "dollars",
        var other => other,
    };

    /// <summary>The provider the wait is on: recorded with the wait, else read from a provider's or model's scope.</summary>
    public static string? Provider(RunWait wait)
    {
        if ((string?)wait.Budget?["provider"] is { } provider)
        {
            return provider;
        }

        // A dollar budget's wait carries limit_usd: its scope is a tenant's or a user's, never a provider's.
        return wait.Budget?["scope"] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var scope)
            && AdmissionOptions.FollowsProviderHeaders(scope) && !wait.Budget.ContainsKey("limit_usd")
            ? scope.Split('/', 2)[0]
            : null;
    }
}
