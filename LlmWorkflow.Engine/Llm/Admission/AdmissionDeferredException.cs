namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>
/// A call that does not fit its budgets now: the step parks until <see cref="Until"/> (a released call or a resumed
/// provider may wake it sooner). Not a failure: the job keeps its checkpoints and gives its worker slot back.
/// </summary>
public sealed class AdmissionDeferredException(string scope, string reason, DateTimeOffset until)
    : Exception($"The LLM call waits for the budget of {scope} ({reason}) until {until:O}.")
{
    /// <summary>The budget that did not fit: <c>openai</c> or <c>openai/gpt-4o-mini</c>.</summary>
    public string Scope { get; } = scope;

    /// <summary>Which limit: requests, tokens, input_tokens, output_tokens, concurrency, paused, rate_limited, fair_share (the tenant is at its weighted share while another tenant waits), user_share (the user is at its weighted share of its tenant's while another user of the tenant waits).</summary>
    public string Reason { get; } = reason;

    public DateTimeOffset Until { get; } = until;

    /// <summary>The called model's provider (the scope may be a tenant's or a key's), for <c>waiting_for.provider</c>.</summary>
    public string? Provider { get; init; }
}
