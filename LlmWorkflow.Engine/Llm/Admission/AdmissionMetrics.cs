using System.Diagnostics.Metrics;

namespace LlmWorkflow.Engine.Llm.Admission;

/// <summary>The admission's OpenTelemetry instruments (on <see cref="Telemetry.Meter"/>), tagged by scope.</summary>
internal static class AdmissionMetrics
{
    public static readonly Counter<long> Reserved = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.admission.reserved", unit: "{token}", description: "Tokens reserved before LLM calls (estimates), by scope.");

    public static readonly Counter<long> Used = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.admission.used", unit: "{token}", description: "Tokens the admitted calls used (their answers' usage), by scope.");

    public static readonly Counter<long> Deferred = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.admission.deferred", unit: "{call}",
        description: "LLM calls held back because they did not fit a budget (each a 429 avoided), by scope and reason; parked = the job was parked.");

    public static readonly Counter<long> RateLimited = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.admission.rate_limited", unit: "{call}", description: "429 answers met by admitted calls (each shrank the budget), by scope.");

    public static readonly Counter<long> Degraded = Telemetry.Meter.CreateCounter<long>(
        "llmworkflow.admission.degraded", unit: "{call}", description: "Calls let through unchecked because the budget store (Redis) could not be reached.");

    /// <summary>
    /// The scope's tag. A user's scope is tagged by its tenant only (<c>tenant:acme:user</c>): a user's id in a tag
    /// would grow the series without bound.
    /// </summary>
    public static KeyValuePair<string, object?> Scope(string scope)
    {
        var user = scope.IndexOf(UserPart, StringComparison.Ordinal);
        return new("llmworkflow.admission.scope", AdmissionOptions.IsTenantScope(scope) && user > 0 ? scope[..(user + UserPart.Length - 1)] : scope);
    }

    private const string UserPart = ":user:";
}
