using System.Net;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// A provider answered with a non-success status. Raised by <see cref="ProviderErrorHandler"/> below the SDKs so
/// that every provider is classified the same way, with the Retry-After the provider sent.
/// </summary>
public sealed class ProviderHttpException(HttpStatusCode statusCode, string providerMessage, TimeSpan? retryAfter, string? providerCode = null)
    : Exception($"Provider returned {(int)statusCode}: {providerMessage}")
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    /// <summary>The provider's own error message, already redacted and shortened.</summary>
    public string ProviderMessage { get; } = providerMessage;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The error body's <c>error.code</c> (else <c>error.type</c>), e.g. OpenAI's <c>rate_limit_exceeded</c>; null when absent.</summary>
    public string? ProviderCode { get; } = providerCode;
}
