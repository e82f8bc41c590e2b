using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.External;
using LlmWorkflow.Engine.Llm.Admission;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace LlmWorkflow.Engine.Llm;

/// <summary>The gateway's failures: a refused answer that was still paid for, and the error of a fallback chain that all failed.</summary>
public sealed partial class LlmGateway
{
    /// <summary>The error type of an answer refused for its size (<see cref="LlmOptions.MaxAnswerBytes"/>).</summary>
    public const string AnswerTooLargeType = "answer_too_large";

    /// <summary>
    /// Records a model of the chain that failed (its attempt, a warning; a refused answer, paid for, to the step) and
    /// returns its failure, the chain's error if no later model answers.
    /// </summary>
    private WorkflowException ModelFailed(
        string id, LlmCallRequest request, WorkflowException failure, string promptHash, double durationMs, List<ModelAttempt> attempts)
    {
        if (failure.Error.Type == AnswerTooLargeType)
        {
            request.OnRefusedAnswer?.Invoke(RefusedCall(ModelId.Parse(id), request, failure, promptHash, durationMs));
        }

        attempts.Add(new ModelAttempt(id, $"{failure.Error.Type}: {failure.Error.Message}", durationMs));
        LogModelFailed(id, failure.Error.Type, failure.Error.Message);
        return failure;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM model {Model} failed ({ErrorType}): {ErrorMessage}")]
    private partial void LogModelFailed(string model, string errorType, string errorMessage);

    /// <summary>
    /// A refused answer was still paid for: its usage, estimated (the provider's usage is at the end of the body, which
    /// is not read) from the prompt and the bytes read, a lower bound of the answer.
    /// </summary>
    private LlmCallResult RefusedCall(ModelId model, LlmCallRequest request, WorkflowException failure, string promptHash, double durationMs)
    {
        var bytes = failure.Error.Details?["answer_bytes_read"]?.GetValue<long>() ?? 0;
        var input = TokenEstimator.Estimate(request.Messages);
        var output = (int)Math.Min(int.MaxValue, bytes / 4);
        var cost = (request.Prices ?? _prices).Cost(model.ToString(), input, output, 0);
        return new LlmCallResult
        {
            Text = string.Empty,
            Provider = model.Provider,
            Model = model.ToString(),
            InputTokens = input,
            OutputTokens = output,
            UsageEstimated = true,
            CostUsd = cost,
            CostSource = cost is null ? null : CostSources.PriceTable,
            DurationMs = durationMs,
            PromptHash = promptHash,
            Attempts = [new ModelAttempt(model.ToString(), $"{failure.Error.Type}: {failure.Error.Message}", durationMs)],
        };
    }

    private static WorkflowException ChainFailed(WorkflowException last, List<ModelAttempt> attempts)
    {
        var details = last.Error.Details?.DeepClone().AsObject() ?? [];
        details["attempts"] = new JsonArray([.. attempts.Select(a => (JsonNode)new JsonObject
        {
            ["model"] = a.Model,
            ["error"] = a.Error,
            ["duration_ms"] = Math.Round(a.DurationMs, 1),
        })]);
        var message = attempts.Count == 1
            ? last.Error.Message
            : $"All {attempts.Count} models of the fallback chain failed; last ({attempts[^1].Model}): {last.Error.Message}";
        return new WorkflowException(last.Error with { Message = message, Details = details }, last);
    }
}
