using System.ComponentModel;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Api.Generator;

/// <summary>The body of document 004's <c>POST /start</c> (served as <c>POST /generator/start</c>).</summary>
public sealed record StartProjectRequest
{
    [Description("The main app's project id; GET /generator/status/{project_id} reads its newest run.")]
    public string? ProjectId { get; init; }

    [Description("The chat the project was asked for in. A repeated start with the same project_id and chat_id answers 200 with the first run_id.")]
    public string? ChatId { get; init; }

    public string? Title { get; init; }

    [Description("The maths topic, e.g. Fractions.")]
    public string? Topic { get; init; }

    [Description("The life skill the project practises, e.g. Problem Solving.")]
    public string? LifeSkill { get; init; }

    [Description("Students per group (1-8): one seat each.")]
    public int? GroupSize { get; init; }

    [Description("Lesson time in minutes (10-600).")]
    public int? DurationMin { get; init; }

    [Description("The teacher's e-mail: kept in the document's meta, redacted in the CSV run logs.")]
    public string? OwnerEmail { get; init; }
}

/// <summary>202 (a new run) or 200 (the run this project_id and chat_id already started).</summary>
public sealed record StartProjectResponse([property: Description("The run's id; it is also the job id under /api/v1/jobs/{job_id}.")] Guid RunId);

/// <summary>Document 004's health answer.</summary>
public sealed record GeneratorHealthResponse(bool Ok);

/// <summary>
/// The canonical <c>proj.v1</c> document of a project's newest run, read from the run's step checkpoints, so each
/// section is in it as soon as its step completes.
/// </summary>
public sealed record ProjectDocument(
    [property: Description("Always proj.v1.")] string SchemaVersion,
    Guid RunId,
    string ChatId,
    [property: Description("planning (the plan step has not finished), generating (sections), validating, complete or error.")] string Status,
    ProjectMeta Meta,
    [property: Description("The plan step's answer: blocklist_ok and the sections with their objectives, constraints, success criteria and roles; null while planning.")] JsonObject? Plan,
    [property: Description("Each finished section by id (sec_01, ...): teacher, shared and seats by number.")] JsonObject Sections,
    [property: Description("The validation step's answer ({ok, issues}); null until it finishes.")] JsonObject? Validator,
    ProjectLogs Logs,
    [property: Description("Why the run ended in error (the job's error: type, message, ...); null otherwise.")] JsonObject? Error);

public sealed record ProjectMeta(
    [property: Description("From the plan; null while planning.")] string? GradeBand,
    string ProjectId,
    string? Title,
    string Topic,
    string LifeSkill,
    int GroupSize,
    int DurationMin,
    string? OwnerEmail,
    [property: Description("From the plan; null while planning.")] bool? UaeContext);

public sealed record ProjectLogs(
    [property: Description("Always null: CSV run logs are files in the workers' CSV_LOG_DIR, not served over HTTP.")] string? CsvUrl,
    [property: Description("True: GET /generator/events/stream replays a run's events from the start, or after Last-Event-ID.")] bool EventsReplayable);
