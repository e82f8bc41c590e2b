using Microsoft.Extensions.AI;

namespace LlmWorkflow.Engine.Llm;

/// <summary>Local token estimate (≈ 4 characters per token) for mock answers and streams without usage.</summary>
public static class TokenEstimator
{
    public static int Estimate(string? text) => string.IsNullOrEmpty(text) ? 0 : (text.Length + 3) / 4;

    public static int Estimate(IEnumerable<ChatMessage> messages) => messages.Sum(m => Estimate(m.Text));
}
