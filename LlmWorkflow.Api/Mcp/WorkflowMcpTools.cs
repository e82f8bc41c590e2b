using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using Microsoft.EntityFrameworkCore;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Api.Mcp;

/// <summary>
/// The MCP tools: one per catalog workflow (its input schema is the tool's <c>inputSchema</c>; a call submits a job
/// through <see cref="JobSubmitter"/> like <c>POST /api/v1/workflow</c> and answers at once with the job id and status
/// URL), plus <see cref="GetJobTool"/> and <see cref="CancelJobTool"/>. A job outside the caller's tenant reads as
/// unknown, as on the REST routes.
/// </summary>
internal sealed class WorkflowMcpTools(
    WorkflowCatalog catalog,
    JobSubmitter submitter,
    JobCommands commands,
    LlmWorkflowDbContext db,
    LlmWorkflow.Storage.Approvals.ApprovalLinks approvalLinks,
    IHttpContextAccessor http)
{
    public const string GetJobTool = "get_job";
    public const string CancelJobTool = "cancel_job";

    private static readonly JsonElement JobIdSchema = JsonSerializer.SerializeToElement(
        new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["job_id"] = new JsonObject { ["type"] = "string", ["format"] = "uuid", ["description"] = "The job_id a workflow tool returned." } },
            ["required"] = new JsonArray("job_id"),
        },
        McpJsonContext.Default.JsonObject);

    public ValueTask<ListToolsResult> ListAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var tools = catalog.All
            .Where(w => w.Name is not (GetJobTool or CancelJobTool))
            .Select(w => new Tool
            {
                Name = w.Name,
                Title = w.Name,
                Description = (w.Description is { Length: > 0 } d ? d + " " : "")
                    + "Runs asynchronously: returns job_id and status_url at once; follow the job with get_job.",
                InputSchema = InputSchemaOf(w),
            })
            .Append(new Tool
            {
                Name = GetJobTool,
                Description = "A job's status, current step, result (output and cost) or error. mcp_task_status says working, input_required (waiting for an approval or a signal), completed, failed or cancelled.",
                InputSchema = JobIdSchema,
                Annotations = new ToolAnnotations { ReadOnlyHint = true },
            })
            .Append(new Tool
            {
                Name = CancelJobTool,
                Description = "Cancels a job that has not finished.",
                InputSchema = JobIdSchema,
                Annotations = new ToolAnnotations { DestructiveHint = true, IdempotentHint = true },
            })
            .ToList();
        return ValueTask.FromResult(new ListToolsResult { Tools = tools });
    }

    /// <summary>Whether <paramref name="name"/> is a workflow's tool (they can run as MCP tasks; the job tools cannot).</summary>
    internal static bool IsWorkflowTool(string? name) => name is { Length: > 0 } && name is not (GetJobTool or CancelJobTool);

    public async ValueTask<CallToolResult> CallAsync(CallToolRequestParams? request, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var name = request?.Name ?? "";
        var caller = Caller(user);
        return name switch
        {
            GetJobTool => await GetJobAsync(JobIdOf(request), caller, cancellationToken),
            CancelJobTool => await CancelJobAsync(JobIdOf(request), caller, cancellationToken),
            _ when catalog.TryGet(name, out var workflow) => await SubmitAsync(workflow, request!, caller, cancellationToken),
            _ => Error($"Unknown tool '{name}'. Tools: {string.Join(", ", catalog.All.Select(w => w.Name))}, {GetJobTool}, {CancelJobTool}."),
        };
    }

    private async Task<CallToolResult> SubmitAsync(WorkflowDefinition workflow, CallToolRequestParams request, CallerScope caller, CancellationToken cancellationToken)
    {
        var input = new JsonObject();
        foreach (var (key, value) in request.Arguments ?? new Dictionary<string, JsonElement>())
        {
            input[key] = JsonSerializer.SerializeToNode(value, McpJsonContext.Default.JsonElement);
        }

        var activity = System.Diagnostics.Activity.Current;
        var result = await submitter.SubmitAsync(
            new JobSubmission
            {
                WorkflowName = workflow.Name,
                InputData = input,
                TenantId = caller.TenantId,
                UserId = caller.UserId,
                Action = "mcp",
                TraceParent = activity?.Id,
                TraceState = activity?.TraceStateString,
            },
            cancellationToken);
        if (result.Accepted is not { } accepted)
        {
            // Each problem names its field (input_data.city), as the REST API's 400 does.
            return Error("The job was not accepted: " + string.Join(" ", result.Problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        return Success(new JsonObject
        {
            ["job_id"] = accepted.JobId.ToString(),
            ["status"] = accepted.Status,
            ["mcp_task_status"] = McpTaskStatus.Working,
            ["workflow_name"] = accepted.WorkflowName,
            ["status_url"] = Absolute(accepted.StatusUrl),
            ["next"] = $"Call {GetJobTool} with this job_id until mcp_task_status is completed, failed or cancelled.",
        });
    }

    private async Task<CallToolResult> GetJobAsync(Guid? jobId, CallerScope caller, CancellationToken cancellationToken) =>
        jobId is { } id && await StatusAsync(id, caller, cancellationToken) is { } found ? Success(found.Status) : UnknownJob(jobId);

    /// <summary>
    /// The job and its status body as <c>GET /api/v1/status/{id}</c> returns it, plus <c>mcp_task_status</c>; null when
    /// the caller may not see the job. <c>get_job</c> and the tasks (<see cref="WorkflowMcpTasks"/>) read it alike.
    /// </summary>
    internal async Task<(WorkflowJob Job, JsonObject Status)?> StatusAsync(Guid jobId, CallerScope caller, CancellationToken cancellationToken)
    {
        if (await VisibleJobAsync(jobId, caller, cancellationToken) is not { } job)
        {
            return null;
        }

        var steps = await db.JobSteps.AsNoTracking().Where(s => s.JobId == job.Id)
            .OrderBy(s => s.StartedAt).ThenBy(s => s.CreatedAt).ToListAsync(cancellationToken);
        var status = job.ToStatus(steps, approvalLinks, BaseUrl());
        var body = JsonSerializer.SerializeToNode(status, LlmWorkflow.Contracts.WireJsonContext.Default.JobStatusResponse)!.AsObject();
        body["mcp_task_status"] = McpTaskStatus.Of(status.Status, status.WaitingFor?.Kind);
        return (job, body);
    }

    private async Task<CallToolResult> CancelJobAsync(Guid? jobId, CallerScope caller, CancellationToken cancellationToken)
    {
        if (await VisibleJobAsync(jobId, caller, cancellationToken) is not { } job)
        {
            return UnknownJob(jobId);
        }

        var outcome = await commands.CancelAsync(job.Id, cancellationToken);
        var (status, message) = outcome switch
        {
            CancelOutcome.Cancelled => ("cancelled", "The job was waiting and is cancelled."),
            CancelOutcome.CancelRequested => ("processing", "The job is running; its worker stops it within about a second."),
            CancelOutcome.AlreadyFinished => ("finished", "The job already finished; nothing to cancel."),
            _ => ("unknown", "The job is gone."),
        };
        var result = Success(new JsonObject { ["job_id"] = job.Id.ToString(), ["status"] = status, ["message"] = message });
        result.IsError = outcome is not (CancelOutcome.Cancelled or CancelOutcome.CancelRequested);
        return result;
    }

    /// <summary>The job when the caller may see it; another tenant's job is indistinguishable from a missing one.</summary>
    private async Task<WorkflowJob?> VisibleJobAsync(Guid? jobId, CallerScope caller, CancellationToken cancellationToken) =>
        jobId is { } id && await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, cancellationToken) is { } job && caller.CanSee(job)
            ? job
            : null;

    private static CallToolResult UnknownJob(Guid? jobId) =>
        Error(jobId is null ? "arguments.job_id must be a job id (a UUID)." : $"No job {jobId} for this API key.");

    private static Guid? JobIdOf(CallToolRequestParams? request) =>
        request?.Arguments?.TryGetValue("job_id", out var value) == true && value.ValueKind == JsonValueKind.String && Guid.TryParse(value.GetString(), out var id)
            ? id
            : null;

    /// <summary>The key's tenant and bound user (an MCP call has no X-User-Id header or query to narrow it).</summary>
    internal static CallerScope Caller(ClaimsPrincipal? user) => new(
        user?.FindFirstValue(CallerScope.TenantClaim) ?? CallerScope.AnonymousTenant,
        user?.FindFirstValue(CallerScope.BoundUserClaim),
        user?.IsAdmin() ?? false);

    private static JsonElement InputSchemaOf(WorkflowDefinition workflow)
    {
        // MCP requires an object schema; a workflow without one takes any object.
        var schema = workflow.InputSchema?.DeepClone().AsObject() ?? new JsonObject { ["type"] = "object" };
        schema.TryAdd("type", "object");
        return JsonSerializer.SerializeToElement(schema, McpJsonContext.Default.JsonObject);
    }

    private string? BaseUrl() => http.HttpContext is { } context ? JobMapping.BaseUrl(context.Request) : null;

    private string Absolute(string path) => BaseUrl() is { } root ? root + path : path;

    private static CallToolResult Success(JsonObject body) => new()
    {
        Content = [new TextContentBlock { Text = body.ToJsonString() }],
        StructuredContent = JsonSerializer.SerializeToElement(body, McpJsonContext.Default.JsonObject),
    };

    private static CallToolResult Error(string message) => new()
    {
        Content = [new TextContentBlock { Text = message }],
        IsError = true,
    };
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class McpJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
