using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Storage.Jobs;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Api.Mcp;

/// <summary>
/// MCP Tasks (specification 2025-11-25) for the workflow tools, each task backed by its job: the task id is the job id,
/// <c>tasks/get</c> reads the job's status (<see cref="McpTaskStatus"/>), <c>tasks/result</c> waits for the job to end
/// and answers what the tool call would have (the job's status body, <c>isError</c> when it failed or was cancelled),
/// <c>tasks/cancel</c> cancels the job. Nothing is stored for a task, so any replica answers and a restart loses none.
/// Hand-written over the SDK's extension points (<c>CallToolWithAlternateHandler</c>, custom request handlers): the C#
/// SDK 2.4.0 is designed for a separately packaged Tasks extension that is not published.
/// </summary>
internal sealed class WorkflowMcpTasks(WorkflowMcpTools tools, JobEventStream events, JobCommands commands)
{
    public const string Get = "tasks/get";
    public const string Result = "tasks/result";
    public const string Cancel = "tasks/cancel";

    /// <summary>How often a client should poll <c>tasks/get</c>, in milliseconds.</summary>
    public const int PollIntervalMs = 500;

    /// <summary>How long one <c>tasks/result</c> request waits without a notice before it reads the job again.</summary>
    private static readonly TimeSpan RecheckAfter = TimeSpan.FromSeconds(5);

    private const string RelatedTaskKey = "io.modelcontextprotocol/related-task";

    /// <summary>
    /// The <c>CreateTaskResult</c> answering a task-augmented call of a workflow tool, from the immediate answer of the
    /// submission: a refused submission (<c>isError</c>) is answered as it is, without a task.
    /// </summary>
#pragma warning disable MCPEXP002 // The SDK's alternate result, made for tasks (see the summary).
    public static ResultOrAlternate<CallToolResult> Created(CallToolResult submitted)
    {
        if (submitted.IsError == true || submitted.StructuredContent is not { } body
            || !Guid.TryParse(body.GetProperty("job_id").GetString(), out var jobId))
        {
            return submitted;
        }

        var now = DateTimeOffset.UtcNow;
        var task = TaskBody(jobId, McpTaskStatus.Working, "The job is queued.", now, now);
        return ResultOrAlternate<CallToolResult>.FromAlternate(new TaskResult { Task = task }, McpTaskJsonContext.Default.TaskResult);
    }
#pragma warning restore MCPEXP002

    /// <summary><c>tasks/get</c>: the task as the job stands now.</summary>
    public async Task<JsonNode> GetAsync(JsonNode? parameters, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var (job, status) = await ReadAsync(parameters, user, cancellationToken);
        return TaskOf(job, status);
    }

    /// <summary>
    /// <c>tasks/result</c>: waits for the job to end (woken by its live events, read again every few seconds) and answers
    /// the tool call's result, tied to the task by its <c>_meta</c>.
    /// </summary>
    public async Task<JsonNode> ResultAsync(JsonNode? parameters, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var (job, status) = await ReadAsync(parameters, user, cancellationToken);
        await using var watch = await events.WatchAsync(job.Id);
        while (!IsFinal(status))
        {
            // The next notice is taken before the read, so an event written between the read and the wait still wakes it.
            var next = watch.Next();
            (job, status) = await ReadAsync(parameters, user, cancellationToken);
            if (!IsFinal(status))
            {
                await Task.WhenAny(next, Task.Delay(RecheckAfter, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return new JsonObject
        {
            ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = status.ToJsonString() }),
            ["structuredContent"] = status.DeepClone(),
            ["isError"] = McpTaskStatusOf(status) != McpTaskStatus.Completed,
            ["_meta"] = new JsonObject { [RelatedTaskKey] = new JsonObject { ["taskId"] = job.Id.ToString() } },
        };
    }

    /// <summary><c>tasks/cancel</c>: cancels the job; a task already ended is refused, as the specification asks.</summary>
    public async Task<JsonNode> CancelAsync(JsonNode? parameters, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var (job, status) = await ReadAsync(parameters, user, cancellationToken);
        if (IsFinal(status) || job.CancelRequestedAt is not null)
        {
            throw AlreadyEnded(job, status);
        }

        var outcome = await commands.CancelAsync(job.Id, cancellationToken);
        if (outcome is not (CancelOutcome.Cancelled or CancelOutcome.CancelRequested))
        {
            // It ended between the read and the cancel.
            (job, status) = await ReadAsync(parameters, user, cancellationToken);
            throw AlreadyEnded(job, status);
        }

        var task = TaskOf(job, status);
        task["status"] = McpTaskStatus.Cancelled;
        task["statusMessage"] = outcome == CancelOutcome.CancelRequested
            ? "Cancelled: the job was running; its worker stops it within about a second."
            : "Cancelled.";
        return task;
    }

    /// <summary>
    /// Declares task support in the server's outgoing answers, where the SDK's types have no field for it: the
    /// <c>tasks</c> capability in <c>initialize</c>'s result, and <c>execution.taskSupport: optional</c> on each workflow
    /// tool in <c>tools/list</c>'s (the job tools answer at once, so they stay without).
    /// </summary>
    public static void Declare(JsonObject result)
    {
        if (result["capabilities"] is JsonObject capabilities && result.ContainsKey("protocolVersion"))
        {
            capabilities["tasks"] = new JsonObject
            {
                ["cancel"] = new JsonObject(),
                ["requests"] = new JsonObject { ["tools"] = new JsonObject { ["call"] = new JsonObject() } },
            };
        }
        else if (result["tools"] is JsonArray listed)
        {
            foreach (var tool in listed.OfType<JsonObject>().Where(t => WorkflowMcpTools.IsWorkflowTool((string?)t["name"])))
            {
                tool["execution"] = new JsonObject { ["taskSupport"] = "optional" };
            }
        }
    }

    private static McpProtocolException AlreadyEnded(WorkflowJob job, JsonObject status) =>
        new($"Cannot cancel task {job.Id}: it is already {TaskStatusOf(job, status)}.", McpErrorCode.InvalidParams);

    private async Task<(WorkflowJob Job, JsonObject Status)> ReadAsync(JsonNode? parameters, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var taskId = parameters?["taskId"] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        if (!Guid.TryParse(taskId, out var jobId))
        {
            throw new McpProtocolException("params.taskId must be a task id (the job id a workflow tool's task carries).", McpErrorCode.InvalidParams);
        }

        return await tools.StatusAsync(jobId, WorkflowMcpTools.Caller(user), cancellationToken)
            ?? throw new McpProtocolException($"No task {jobId} for this API key.", McpErrorCode.InvalidParams);
    }

    private static JsonObject TaskOf(WorkflowJob job, JsonObject status)
    {
        var taskStatus = TaskStatusOf(job, status);
        var message = taskStatus switch
        {
            McpTaskStatus.Cancelled when !IsFinal(status) => "Cancelled: the job was running; its worker stops it within about a second.",
            McpTaskStatus.InputRequired => status["waiting_for"]?["decision_url"] is { } decide
                ? $"Waiting for a person's decision: {decide}"
                : "Waiting for a signal (see get_job's waiting_for).",
            McpTaskStatus.Failed => (string?)status["error"]?["message"] ?? "The job failed.",
            _ => $"The job is {status["status"]}" + (status["current_step"] is { } step ? $" (step {step})." : "."),
        };
        return TaskBody(job.Id, taskStatus, message, job.CreatedAt, job.UpdatedAt);
    }

    private static JsonObject TaskBody(Guid jobId, string status, string message, DateTimeOffset created, DateTimeOffset updated) => new()
    {
        ["taskId"] = jobId.ToString(),
        ["status"] = status,
        ["statusMessage"] = message,
        ["createdAt"] = created.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["lastUpdatedAt"] = updated.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        // The job is kept as long as every job is (docs/OPERATIONS.md): no task-specific expiry.
        ["ttl"] = null,
        ["pollInterval"] = PollIntervalMs,
    };

    /// <summary>
    /// The task's status: the job's, except that a running job whose cancel was asked for is already <c>cancelled</c>
    /// (its worker stops it within about a second), so a <c>tasks/get</c> after <c>tasks/cancel</c> agrees with it.
    /// </summary>
    private static string TaskStatusOf(WorkflowJob job, JsonObject status) =>
        job.CancelRequestedAt is not null && !IsFinal(status) ? McpTaskStatus.Cancelled : McpTaskStatusOf(status);

    private static string McpTaskStatusOf(JsonObject status) => (string?)status["mcp_task_status"] ?? McpTaskStatus.Working;

    private static bool IsFinal(JsonObject status) => McpTaskStatusOf(status) is McpTaskStatus.Completed or McpTaskStatus.Failed or McpTaskStatus.Cancelled;
}

/// <summary>The <c>CreateTaskResult</c> of the specification: the task, whose JSON the tasks code writes (the SDK has no task types).</summary>
internal sealed class TaskResult : Result
{
    [System.Text.Json.Serialization.JsonPropertyName("task")]
    public JsonObject? Task { get; set; }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(TaskResult))]
internal sealed partial class McpTaskJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
