using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Versions;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Generator;

/// <summary>What a start did: a new run (202), the run the same start began before (200), or problems (400).</summary>
internal sealed record StartOutcome(Guid? RunId, bool Created, IReadOnlyList<SubmissionProblem> Problems);

/// <summary>
/// Document 004's <c>POST /start</c> on the job pipeline: a start submits a <c>generate_project</c> job for the
/// caller's tenant and records the run under its (project_id, chat_id). A repeated start finds the recorded run; two
/// concurrent first starts submit with one idempotency key derived from the pair, so both get the same job.
/// </summary>
internal sealed class ProjectGenerator(
    JobSubmitter submitter,
    ProjectRunStore runs,
    PrimaryModelVersion primaryModel,
    IOptions<ProjectGeneratorOptions> options)
{

    public async Task<StartOutcome> StartAsync(
        StartProjectRequest request, string tenantId, string? userId, CancellationToken cancellationToken, JsonObject? input = null)
    {
        if (RequiredIds(request) is { Count: > 0 } missing)
        {
            // A missing id does not hide the body's other problems: the input schema's checks are reported with it.
            var others = submitter.Problems(new JobSubmission { WorkflowName = options.Value.WorkflowName, InputData = input ?? Input(request), TenantId = tenantId });
            return new StartOutcome(null, false, [.. missing, .. BodyFields(others).Where(p => missing.All(m => m.Field != p.Field))]);
        }

        var (projectId, chatId) = (request.ProjectId!, request.ChatId!);
        if (await runs.FindStartedAsync(tenantId, userId ?? "", projectId, chatId, cancellationToken) is { } started)
        {
            return new StartOutcome(started.RunId, false, []);
        }

        var result = await submitter.SubmitAsync(new JobSubmission
        {
            WorkflowName = options.Value.WorkflowName,
            InputData = input ?? Input(request),
            TenantId = tenantId,
            UserId = userId,
            Action = "generator.start",
            IdempotencyKey = StartKey(projectId, chatId),
            Version = primaryModel.Current(),
        }, cancellationToken);
        if (result.Job is not { } job)
        {
            // The workflow's input schema checks the fields; 004's body is the input, so its problems name the body's fields.
            return new StartOutcome(null, false, BodyFields(result.Problems));
        }

        await runs.InsertAsync(new ProjectRun(job.Id, tenantId, userId ?? "", projectId, chatId, Meta(request)), cancellationToken);
        return new StartOutcome(job.Id, result.Created, []);
    }

    private static IReadOnlyList<SubmissionProblem> BodyFields(IEnumerable<SubmissionProblem> problems) =>
        [.. problems.Select(p => p with { Field = p.Field.StartsWith("input_data.", StringComparison.Ordinal) ? p.Field["input_data.".Length..] : p.Field })];

    private static List<SubmissionProblem> RequiredIds(StartProjectRequest request)
    {
        var problems = new List<SubmissionProblem>();
        foreach (var (field, value) in new[] { ("project_id", request.ProjectId), ("chat_id", request.ChatId) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add(new(field, $"{field} is required."));
            }
            else if (value.Length > SubmissionValidator.MaxUserFieldLength)
            {
                problems.Add(new(field, $"{field} must be at most {SubmissionValidator.MaxUserFieldLength} characters."));
            }
        }

        return problems;
    }

    private static readonly JsonSerializerOptions InputJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The job's input: the fields the start sent (the workflow's input schema says which are required). Parsed from
    /// JSON text, as a submitted input_data is: the input schema checks read numbers as JSON numbers.
    /// </summary>
    private static JsonObject Input(StartProjectRequest request) =>
        JsonNode.Parse(JsonSerializer.Serialize(request, InputJson))!.AsObject();

    private static ProjectMeta Meta(StartProjectRequest request) => new(
        GradeBand: null, request.ProjectId!, request.Title, request.Topic ?? "", request.LifeSkill ?? "",
        request.GroupSize ?? 0, request.DurationMin ?? 0, request.OwnerEmail, UaeContext: null);

    /// <summary>The job idempotency key of a (project_id, chat_id): hashed, so any ids fit the key's 255 characters.</summary>
    private static string StartKey(string projectId, string chatId) =>
        "generator:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(projectId + "\n" + chatId)));
}

/// <summary>
/// The version generator runs are pinned to when MODEL_PRIMARY is set: the catalog's version of the workflow with
/// every llm step on that model, derived once per catalog version.
/// </summary>
internal sealed class PrimaryModelVersion(WorkflowVersions versions, WorkflowCatalog catalog, IOptions<ProjectGeneratorOptions> options)
{
    private (string CatalogHash, WorkflowVersion Pinned)? _derived;

    /// <summary>Null (the catalog's version) when MODEL_PRIMARY is unset.</summary>
    public WorkflowVersion? Current()
    {
        if (options.Value.ModelPrimary is not { } model || !catalog.TryGet(options.Value.WorkflowName, out var workflow))
        {
            return null;
        }

        var current = versions.Current(workflow);
        if (_derived is { } cached && cached.CatalogHash == current.Hash)
        {
            return cached.Pinned;
        }

        var pinned = versions.Derive(current, definition => UseModel(definition["steps"] as JsonArray, model));
        _derived = (current.Hash, pinned);
        return pinned;
    }

    private static void UseModel(JsonArray? steps, string model)
    {
        foreach (var step in steps?.OfType<JsonObject>() ?? [])
        {
            if ((string?)step["type"] == StepTypes.Llm && step["config"] is JsonObject config)
            {
                config["model"] = model;
            }
        }
    }
}
