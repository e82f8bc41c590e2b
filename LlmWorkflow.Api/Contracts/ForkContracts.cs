using System.ComponentModel;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Contracts;

/// <summary>Body of <c>POST /api/v1/jobs/{job_id}/fork</c>.</summary>
public sealed record ForkJobRequest
{
    [Description("The top-level step the fork runs from: the steps before it reuse the source's checkpointed outputs ($0, not called again); it and those after it run.")]
    public string? FromStep { get; init; }

    [Description("Changes for the fork: \"steps.<id>.model\" (\"provider/model\" or a fallback array), \"steps.<id>.prompt\" (inline text, replaces prompt_file/messages), " +
                 "\"steps.<id>.temperature\" (0-2) of an llm step at or after from_step; \"input_data\" (an object, only when from_step is the first step). " +
                 "Each bad key is a 400 naming it as overrides[\"key\"].")]
    public JsonObject? Overrides { get; init; }
}

/// <summary>The 202 of a fork.</summary>
public sealed record ForkAcceptedResponse(
    Guid JobId,
    string Status,
    [property: Description("The job forked from.")] Guid ForkedFrom,
    string FromStep,
    [property: Description("The fork's pinned workflow version (a new one when overrides change the definition).")] string DefinitionHash,
    string StatusUrl);

/// <summary><c>GET /api/v1/jobs/{job_id}/compare/{other_id}</c>: two jobs side by side, per top-level step.</summary>
public sealed record JobComparisonResponse(
    JobComparisonSide Job,
    JobComparisonSide Other,
    [property: Description("Top-level steps in the order of the job's workflow version, then any only the other has.")] IReadOnlyList<StepComparison> Steps);

/// <summary>One job's totals in a comparison.</summary>
public sealed record JobComparisonSide(
    Guid JobId, string Status, string WorkflowName, string? DefinitionHash, JsonObject InputData,
    int TotalTokens, decimal CostUsd, int? DurationMs, JsonNode? Output, Guid? ForkedFrom);

/// <summary>One top-level step of both jobs.</summary>
public sealed record StepComparison(
    string StepId,
    string? DisplayName,
    [property: Description("The step in the first job; null when it has no record of it.")] StepSide? Job,
    [property: Description("The step in the other job; null when it has no record of it.")] StepSide? Other,
    [property: Description("Whether both outputs are equal JSON.")] bool OutputEqual,
    [property: Description("Where the outputs differ: top-level keys of object outputs, or \"$\" for the whole output.")] IReadOnlyList<string> OutputDifferences);

/// <summary>A step's record in one job of a comparison.</summary>
public sealed record StepSide(
    string Status, string? Model, int InputTokens, int OutputTokens,
    [property: Description("USD paid by this job for the step; 0 when reused.")] decimal? CostUsd,
    int? DurationMs,
    [property: Description("The step's checkpoint was reused (from an earlier attempt, or from the fork's source) rather than run.")] bool Reused,
    JsonNode? Output);

/// <summary>One version of a workflow that the caller's jobs ran.</summary>
public sealed record WorkflowVersionSummary(
    string Hash,
    string ShortHash,
    [property: Description("Whether this is the catalog's current version.")] bool Current,
    DateTimeOffset? FirstSeenAt,
    [property: Description("The caller's (tenant's) jobs pinned to this version.")] long JobCount,
    DateTimeOffset? FirstUsedAt,
    DateTimeOffset? LastUsedAt);

/// <summary><c>GET /api/v1/workflows/{name}/versions</c>.</summary>
public sealed record WorkflowVersionsResponse(string WorkflowName, string? CurrentHash, IReadOnlyList<WorkflowVersionSummary> Versions);

/// <summary><c>GET /api/v1/workflows/{name}/versions/{hash}</c>: one pinned version and how it differs from the current one.</summary>
public sealed record WorkflowVersionDetail(
    string Hash,
    string ShortHash,
    string WorkflowName,
    bool Current,
    string? CurrentHash,
    [property: Description("The canonical definition JSON of this version.")] JsonObject Definition,
    [property: Description("The prompt files its steps use: relative path -> raw text.")] JsonObject Prompts,
    [property: Description("The price rows of its models (per million tokens); null for an unpriced model.")] JsonObject Prices,
    [property: Description("From this version to the current one: per step (its differing fields), workflow field, prompt file and price row; empty when it is the current one.")]
    IReadOnlyList<LlmWorkflow.Storage.Versions.VersionDifference> DifferencesToCurrent);
