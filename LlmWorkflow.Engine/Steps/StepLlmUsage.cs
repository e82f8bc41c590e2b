using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Engine.Steps;

/// <summary>Tokens and cost of the LLM calls one step made; every attempt was paid for, so retries add up.</summary>
internal sealed class StepLlmUsage
{
    public int InputTokens { get; private set; }

    public int OutputTokens { get; private set; }

    public decimal? CostUsd { get; private set; }

    public LlmCallResult? LastCall { get; private set; }

    /// <summary>Invalid UTF-8 bytes replaced in the answers (the step record's notes say so).</summary>
    public int InvalidUtf8Replaced { get; private set; }

    public void Add(LlmCallResult call)
    {
        InputTokens += call.InputTokens;
        OutputTokens += call.OutputTokens;
        if (call.CostUsd is { } cost)
        {
            CostUsd = (CostUsd ?? 0) + cost;
        }

        InvalidUtf8Replaced += call.InvalidUtf8Replaced;
        LastCall = call;
    }
}
