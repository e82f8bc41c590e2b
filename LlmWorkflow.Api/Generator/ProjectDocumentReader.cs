using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.EntityFrameworkCore;

namespace LlmWorkflow.Api.Generator;

/// <summary>
/// Builds a run's <c>proj.v1</c> document from what the run has persisted: the project's meta from the start, and the
/// plan, sections and validation from the checkpoints of the <c>generate_project</c> steps (<c>plan</c>,
/// <c>section_&lt;id&gt;</c>, <c>validate</c>), each written as its step completes. Nothing is copied, so the document can
/// never disagree with the run.
/// </summary>
internal sealed class ProjectDocumentReader(LlmWorkflowDbContext db)
{
    public const string SchemaVersion = "proj.v1";
    public const string PlanStep = "plan";
    public const string ValidateStep = "validate";

    /// <summary>Section steps are named <c>section_&lt;section id&gt;</c>.</summary>
    public const string SectionStepPrefix = "section_";

    /// <summary>The document, or null when the run's job is gone (deleted).</summary>
    public async Task<ProjectDocument?> ReadAsync(ProjectRun run, CancellationToken cancellationToken)
    {
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == run.RunId)
            .Select(j => new { j.Status, j.ErrorData }).FirstOrDefaultAsync(cancellationToken);
        if (job is null)
        {
            return null;
        }

        var finished = await db.JobSteps.AsNoTracking()
            .Where(s => s.JobId == run.RunId && s.ParentStepId == null && s.Status == "completed")
            .Select(s => new { s.StepId, s.JobAttempt, s.CreatedAt, s.Output })
            .ToListAsync(cancellationToken);
        // A retried or resumed run can hold a step's row from more than one attempt: the newest answer counts.
        var answers = finished.GroupBy(s => s.StepId)
            .ToDictionary(g => g.Key, g => Answer(g.OrderByDescending(s => s.JobAttempt).ThenByDescending(s => s.CreatedAt).First().Output));

        var plan = answers.GetValueOrDefault(PlanStep);
        var sections = new JsonObject();
        foreach (var (stepId, answer) in answers.Where(a => a.Key.StartsWith(SectionStepPrefix, StringComparison.Ordinal)).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            sections[stepId[SectionStepPrefix.Length..]] = answer;
        }

        var plannedSections = (plan?["sections"] as JsonArray)?.Count ?? 0;
        return new ProjectDocument(
            SchemaVersion,
            run.RunId,
            run.ChatId,
            Status(job.Status, plan is not null, plannedSections > 0 && sections.Count >= plannedSections),
            run.Meta with
            {
                GradeBand = plan?["grade_band"] is JsonValue band && band.TryGetValue<string>(out var grade) ? grade : null,
                UaeContext = plan?["uae_context"] is JsonValue uae && uae.TryGetValue<bool>(out var inUae) ? inUae : null,
            },
            plan,
            sections,
            answers.GetValueOrDefault(ValidateStep),
            new ProjectLogs(CsvUrl: null, EventsReplayable: true),
            Error(job.Status, job.ErrorData));
    }

    /// <summary>004's status values from the job's status and the steps it has persisted.</summary>
    public static string Status(JobStatus job, bool planned, bool allSectionsWritten) => job switch
    {
        JobStatus.Completed => "complete",
        JobStatus.Failed or JobStatus.Cancelled => "error",
        _ when !planned => "planning",
        _ when !allSectionsWritten => "generating",
        _ => "validating",
    };

    /// <summary>The job's error for a run that ended in error; a cancellation without one says so.</summary>
    private static JsonObject? Error(JobStatus status, JsonDocument? error) => status switch
    {
        JobStatus.Failed or JobStatus.Cancelled when error is not null => JsonNode.Parse(error.RootElement.GetRawText()) as JsonObject,
        JobStatus.Cancelled => new JsonObject { ["type"] = "cancelled", ["message"] = "The run was cancelled." },
        _ => null,
    };

    /// <summary>An llm step's JSON answer (its output's <c>json</c>).</summary>
    private static JsonObject? Answer(JsonDocument? output) =>
        output is not null && output.RootElement.ValueKind == JsonValueKind.Object && output.RootElement.TryGetProperty("json", out var json)
            ? JsonNode.Parse(json.GetRawText()) as JsonObject
            : null;
}
