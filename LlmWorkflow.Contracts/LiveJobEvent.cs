using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmWorkflow.Contracts;

/// <summary>
/// One live event of a job (the SSE <c>data:</c> of <c>GET /api/v1/jobs/{id}/events</c> and the Redis stream entry
/// it is served from). <c>type</c> names the kind; an unknown kind (a newer service) reads as this base record.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", IgnoreUnrecognizedTypeDiscriminators = true)]
[JsonDerivedType(typeof(RunStartedEvent), LiveEventTypes.RunStarted)]
[JsonDerivedType(typeof(StepStartedEvent), LiveEventTypes.StepStarted)]
[JsonDerivedType(typeof(StepCompletedEvent), LiveEventTypes.StepCompleted)]
[JsonDerivedType(typeof(LlmDeltaEvent), LiveEventTypes.LlmDelta)]
[JsonDerivedType(typeof(LlmCallCompletedEvent), LiveEventTypes.LlmCallCompleted)]
[JsonDerivedType(typeof(RunCompletedEvent), LiveEventTypes.RunCompleted)]
[JsonDerivedType(typeof(RunFailedEvent), LiveEventTypes.RunFailed)]
[JsonDerivedType(typeof(JobCancelledEvent), LiveEventTypes.Cancelled)]
[JsonDerivedType(typeof(RunWaitingEvent), LiveEventTypes.RunWaiting)]
[JsonDerivedType(typeof(AgentTurnEvent), LiveEventTypes.AgentTurn)]
[JsonDerivedType(typeof(AgentToolEvent), LiveEventTypes.AgentToolCall)]
[JsonDerivedType(typeof(AgentToolResultEvent), LiveEventTypes.AgentToolResult)]
[JsonDerivedType(typeof(AgentDeltaEvent), LiveEventTypes.AgentDelta)]
[JsonDerivedType(typeof(AgentTurnRestartedEvent), LiveEventTypes.AgentTurnRestarted)]
public record LiveJobEvent(
    [property: JsonPropertyOrder(-2)] string JobId,
    [property: JsonPropertyOrder(-1)] DateTimeOffset Timestamp)
{
    /// <summary>The wire name of this kind (the <c>type</c> field and the SSE event name); null for an unknown kind.</summary>
    [JsonIgnore]
    public string? Type => this switch
    {
        RunStartedEvent => LiveEventTypes.RunStarted,
        StepStartedEvent => LiveEventTypes.StepStarted,
        StepCompletedEvent => LiveEventTypes.StepCompleted,
        LlmDeltaEvent => LiveEventTypes.LlmDelta,
        LlmCallCompletedEvent => LiveEventTypes.LlmCallCompleted,
        RunCompletedEvent => LiveEventTypes.RunCompleted,
        RunFailedEvent => LiveEventTypes.RunFailed,
        JobCancelledEvent => LiveEventTypes.Cancelled,
        RunWaitingEvent => LiveEventTypes.RunWaiting,
        AgentTurnEvent => LiveEventTypes.AgentTurn,
        AgentToolEvent => LiveEventTypes.AgentToolCall,
        AgentToolResultEvent => LiveEventTypes.AgentToolResult,
        AgentDeltaEvent => LiveEventTypes.AgentDelta,
        AgentTurnRestartedEvent => LiveEventTypes.AgentTurnRestarted,
        _ => null,
    };
}

/// <summary>The <c>type</c> values of live events.</summary>
public static class LiveEventTypes
{
    public const string RunStarted = "run_started";
    public const string StepStarted = "step_started";
    public const string StepCompleted = "step_completed";
    public const string LlmDelta = "llm_delta";
    public const string LlmCallCompleted = "llm_call_completed";
    public const string RunCompleted = "run_completed";
    public const string RunFailed = "run_failed";
    public const string Cancelled = "cancelled";

    /// <summary>The run parked at a sleep or a wait for a signal; the stream goes on when it resumes.</summary>
    public const string RunWaiting = "run_waiting";

    /// <summary>An agent step's model turn answered (its usage and the tools it asked for).</summary>
    public const string AgentTurn = "agent_turn";

    /// <summary>An agent step starts a tool call (its arguments).</summary>
    public const string AgentToolCall = "agent_tool_call";

    /// <summary>An agent step's tool call ended: finished, failed or rejected (its result).</summary>
    public const string AgentToolResult = "agent_tool_result";

    /// <summary>Streamed text of an agent step's model turn (<c>stream: true</c>), coalesced; not durable.</summary>
    public const string AgentDelta = "agent_delta";

    /// <summary>An agent turn's streamed attempt was abandoned (retry or fallback): its deltas so far are void.</summary>
    public const string AgentTurnRestarted = "agent_turn_restarted";

    /// <summary>The kinds after which a job's stream ends.</summary>
    public static IReadOnlySet<string> Terminal { get; } = new HashSet<string>(StringComparer.Ordinal) { RunCompleted, RunFailed, Cancelled };
}

/// <param name="Kind">"sleep" or "event".</param>
/// <param name="Until">When it resumes: the sleep's end or the wait's timeout.</param>
/// <param name="Event">The signal an "event" wait waits for.</param>
/// <param name="Prompt">An approval wait's prompt; absent for other waits.</param>
/// <param name="DecisionUrl">An approval wait's signed decision page (single use, expiring; no API key), as the
/// <c>workflow.waiting</c> webhook and the status's <c>waiting_for</c> carry it; absent for other waits.</param>
/// <param name="ApproveUrl">The decision page with Approve chosen.</param>
/// <param name="RejectUrl">The decision page with Reject chosen.</param>
/// <param name="LinksExpireAt">When the decision links stop working.</param>
/// <param name="Provider">A "budget" wait's provider, when the wait is an LLM provider's.</param>
/// <param name="Reason">Why a "budget" wait waits (paused, tokens, requests, dollars, share, outage, …; docs/ADMISSION.md, "Waiting").</param>
public sealed record RunWaitingEvent(
    string JobId,
    DateTimeOffset Timestamp,
    string StepId,
    string Kind,
    DateTimeOffset Until,
    string? Event,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Prompt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DecisionUrl = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ApproveUrl = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RejectUrl = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? LinksExpireAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Provider = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null)
    : LiveJobEvent(JobId, Timestamp);

/// <param name="TotalSteps">Number of top-level steps, the denominator of the percentages.</param>
public sealed record RunStartedEvent(string JobId, DateTimeOffset Timestamp, string WorkflowName, int TotalSteps)
    : LiveJobEvent(JobId, Timestamp);

public sealed record StepStartedEvent(
    string JobId,
    DateTimeOffset Timestamp,
    string StepId,
    string StepKey,
    string DisplayName,
    string StepType,
    int Index,
    int Total,
    int Percent,
    string? ParentStepId)
    : LiveJobEvent(JobId, Timestamp);

public sealed record StepCompletedEvent(
    string JobId,
    DateTimeOffset Timestamp,
    string StepId,
    string StepKey,
    string DisplayName,
    string Status,
    double DurationMs,
    int Attempts,
    int? InputTokens,
    int? OutputTokens,
    decimal? CostUsd,
    string? Model,
    int Percent,
    string? ParentStepId,
    JsonNode? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Notes)
    : LiveJobEvent(JobId, Timestamp);

public sealed record LlmDeltaEvent(string JobId, DateTimeOffset Timestamp, string StepId, string Text)
    : LiveJobEvent(JobId, Timestamp);

public sealed record LlmCallCompletedEvent(
    string JobId,
    DateTimeOffset Timestamp,
    string StepId,
    string Provider,
    string Model,
    int InputTokens,
    int OutputTokens,
    decimal? CostUsd,
    bool CacheHit)
    : LiveJobEvent(JobId, Timestamp);

/// <param name="Status">Set (with <paramref name="FromDatabase"/>) only when the event was rebuilt from the job row.</param>
public sealed record RunCompletedEvent(
    string JobId,
    DateTimeOffset Timestamp,
    decimal? CostUsd,
    int TotalTokens,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Status = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? FromDatabase = null)
    : LiveJobEvent(JobId, Timestamp);

/// <param name="Status">Set (with the totals and <paramref name="FromDatabase"/>) only when rebuilt from the job row.</param>
public sealed record RunFailedEvent(
    string JobId,
    DateTimeOffset Timestamp,
    JsonNode? Error,
    bool Cancelled,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Status = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] decimal? CostUsd = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? TotalTokens = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? FromDatabase = null)
    : LiveJobEvent(JobId, Timestamp);

/// <summary>
/// A job cancelled while queued or by request. The live event has only the common fields; one rebuilt from the job
/// row also carries the status, totals and error.
/// </summary>
public sealed record JobCancelledEvent(
    string JobId,
    DateTimeOffset Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Status = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] decimal? CostUsd = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? TotalTokens = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? FromDatabase = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? Error = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Cancelled = null)
    : LiveJobEvent(JobId, Timestamp);

/// <summary>An agent step's model turn: what it cost and which tools the model asked for.</summary>
public sealed record AgentTurnEvent(
    string JobId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, string Model, int InputTokens, int OutputTokens, decimal? CostUsd,
    IReadOnlyList<string> ToolCalls)
    : LiveJobEvent(JobId, Timestamp);

/// <summary>An agent step's tool call starting, with its arguments (cut at 4 KB).</summary>
public sealed record AgentToolEvent(string JobId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, string CallId, string Tool, JsonNode? Arguments)
    : LiveJobEvent(JobId, Timestamp);

/// <param name="Status">finished, failed or rejected.</param>
public sealed record AgentToolResultEvent(
    string JobId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, string CallId, string Tool, string Status, JsonNode? Result)
    : LiveJobEvent(JobId, Timestamp);

/// <summary>
/// Streamed text of an agent step's model turn (steps with <c>stream: true</c>), several tokens per event. The turn's
/// text is the concatenation of the deltas of its latest <paramref name="Attempt"/>; its <c>agent_turn</c> follows them.
/// </summary>
/// <param name="Attempt">The provider call of the turn that streamed it (0 first; a retry or fallback counts up).</param>
public sealed record AgentDeltaEvent(string JobId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, int Attempt, string Text)
    : LiveJobEvent(JobId, Timestamp);

/// <summary>
/// The attempt of an agent turn that streamed deltas was abandoned (a retry of the model or a fallback to the next
/// one): drop the turn's text so far; the deltas of <paramref name="Attempt"/> follow. Nothing of the abandoned attempt is recorded.
/// </summary>
/// <param name="Attempt">The attempt that starts now.</param>
/// <param name="DiscardedChars">Characters of text the abandoned attempts had streamed.</param>
public sealed record AgentTurnRestartedEvent(string JobId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, int Attempt, int DiscardedChars)
    : LiveJobEvent(JobId, Timestamp);
