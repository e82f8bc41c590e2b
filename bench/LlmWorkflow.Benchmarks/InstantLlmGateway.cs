using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Benchmarks;

/// <summary>An LLM that answers at once with a fixed result, so only engine overhead is measured.</summary>
public sealed class InstantLlmGateway : ILlmGateway
{
    private static readonly Task<LlmCallResult> Answer = Task.FromResult(new LlmCallResult
    {
        Text = "Hello from the instant model.",
        Provider = "mock",
        Model = "mock/instant",
        InputTokens = 20,
        OutputTokens = 8,
        CostUsd = 0.000012m,
    });

    public Task<LlmCallResult> CompleteAsync(LlmCallRequest request, CancellationToken cancellationToken) => Answer;
}
