using System.Collections.Concurrent;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Engine.Fakes;

/// <summary>An instant in-memory LLM: answers with a fixed or computed text, prices with 1 token per 4 characters.</summary>
internal sealed class FakeLlmGateway(Func<LlmCallRequest, string>? answer = null, decimal? costPerCall = 0.001m) : ILlmGateway
{
    public ConcurrentQueue<LlmCallRequest> Requests { get; } = new();

    public Task<LlmCallResult> CompleteAsync(LlmCallRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Requests.Enqueue(request);
        var text = answer?.Invoke(request) ?? "ok";
        if (request.Stream)
        {
            foreach (var word in text.Split(' '))
            {
                request.OnDelta?.Invoke(word);
            }
        }

        var model = request.Models[0];
        return Task.FromResult(new LlmCallResult
        {
            Text = text,
            Provider = model.Split('/')[0],
            Model = model,
            InputTokens = request.Messages.Sum(m => m.Text.Length) / 4,
            OutputTokens = text.Length / 4,
            CostUsd = costPerCall,
        });
    }
}
