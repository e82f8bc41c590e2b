using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Execution;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Maps what a provider call threw to the error taxonomy: 401/403 → CONFIG_ERROR invalid key, 404 → CONFIG_ERROR
/// unknown model, 400/422 → CONFIG_ERROR bad request (USER_ERROR when the prompt is too long), 408/429/5xx, an
/// open circuit breaker, timeouts and connection failures → retryable EXTERNAL_ERROR.
/// </summary>
internal static class LlmErrorClassifier
{
    public static WorkflowException Classify(Exception exception, ModelId model, ResolvedProvider? provider)
    {
        if (exception is WorkflowException classified)
        {
            return classified;
        }

        var details = new JsonObject { ["provider"] = model.Provider, ["model"] = model.ToString() };
        if (Find<AnswerTooLargeException>(exception) is { } tooLarge)
        {
            // Paid for but refused: asking again would pay again for the same oversized answer.
            details["answer_bytes_read"] = tooLarge.Bytes;
            details["max_answer_bytes"] = tooLarge.MaxBytes;
            return WithDetails(WorkflowException.External(LlmGateway.AnswerTooLargeType, $"The answer of {model} was refused: {tooLarge.Message}", retryable: false),
                details, exception);
        }

        if (Find<ProviderHttpException>(exception) is { } http)
        {
            details["http_status"] = (int)http.StatusCode;
            if (http.ProviderCode is { } code)
            {
                details["provider_code"] = code;
            }

            return WithDetails(FromStatus(http, model, provider), details, exception);
        }

        if (Find<BrokenCircuitException>(exception) is { } broken)
        {
            // The host's circuit breaker for this provider is open: wait it out (retry) or move down the fallback chain.
            return WithDetails(
                WorkflowException.External("provider_unavailable", $"{model.Provider} failed too often recently; calls to it are paused.",
                    retryable: true, broken.RetryAfter?.TotalSeconds),
                details,
                exception);
        }

        if (Find<TimeoutRejectedException>(exception) is not null || Find<TimeoutException>(exception) is not null)
        {
            return WithDetails(WorkflowException.External("timeout", $"{model} did not answer in time.", retryable: true), details, exception);
        }

        if (Find<HttpRequestException>(exception) is not null || Find<SocketException>(exception) is not null || Find<IOException>(exception) is not null)
        {
            return WithDetails(
                WorkflowException.External("connection_error", $"Could not reach {model.Provider}: the connection failed.", retryable: true),
                details,
                exception);
        }

        return WithDetails(
            WorkflowException.External("provider_error", $"{model} failed: {exception.GetType().Name}.", retryable: false),
            details,
            exception);
    }

    private static WorkflowException FromStatus(ProviderHttpException http, ModelId model, ResolvedProvider? provider)
    {
        var said = http.ProviderMessage;
        var status = (int)http.StatusCode;
        return http.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => WorkflowException.Config(
                "invalid_api_key",
                $"{model.Provider} rejected the API key ({status}): {said}",
                $"Check {provider?.ApiKeySource ?? "the provider's API key"}."),
            HttpStatusCode.NotFound => WorkflowException.Config(
                "model_not_found", $"{model.Provider} does not know model '{model.Model}' ({status}): {said}"),
            HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity when IsPromptTooLong(said) => WorkflowException.User(
                "prompt_too_long", $"The prompt is too long for {model} ({status}): {said}", "Shorten the input or choose a model with a larger context."),
            HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => WorkflowException.Config(
                "bad_request", $"{model.Provider} rejected the request for {model} ({status}): {said}"),
            HttpStatusCode.TooManyRequests => WorkflowException.External(
                "rate_limited", $"{model.Provider} is rate limiting ({status}): {said}", retryable: true, http.RetryAfter?.TotalSeconds),
            HttpStatusCode.RequestTimeout => WorkflowException.External(
                "timeout", $"{model.Provider} timed out ({status}): {said}", retryable: true, http.RetryAfter?.TotalSeconds),
            _ when status >= 500 => WorkflowException.External(
                "provider_unavailable", $"{model.Provider} failed ({status}): {said}", retryable: true, http.RetryAfter?.TotalSeconds),
            _ => WorkflowException.External("provider_error", $"{model.Provider} answered {status}: {said}", retryable: false),
        };
    }

    private static bool IsPromptTooLong(string message) =>
        message.Contains("context length", StringComparison.OrdinalIgnoreCase)
        || message.Contains("too long", StringComparison.OrdinalIgnoreCase)
        || message.Contains("maximum context", StringComparison.OrdinalIgnoreCase);

    private static WorkflowException WithDetails(WorkflowException exception, JsonObject details, Exception inner) =>
        new(exception.Error with { Details = details }, inner);

    private static T? Find<T>(Exception exception) where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T match)
            {
                return match;
            }

            if (current is AggregateException { InnerExceptions: [var only] })
            {
                return Find<T>(only);
            }
        }

        return null;
    }
}
