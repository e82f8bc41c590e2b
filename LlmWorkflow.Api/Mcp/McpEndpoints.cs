using LlmWorkflow.Api.Auth;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace LlmWorkflow.Api.Mcp;

/// <summary>
/// The service's workflows as MCP tools over Streamable HTTP at <see cref="Route"/> (docs/MCP.md): authenticated by the
/// same X-API-Key scheme as the REST API, each call acting for the key's tenant. Stateless (no MCP session kept on
/// the replica), so any API replica answers any request, as with the REST routes.
/// </summary>
public static class McpEndpoints
{
    public const string Route = "/mcp";

    public static IServiceCollection AddWorkflowMcpServer(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddScoped<WorkflowMcpTools>();
        services.AddScoped<WorkflowMcpTasks>();
        services.AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "llmworkflow", Version = typeof(McpEndpoints).Assembly.GetName().Version?.ToString() ?? "1.0.0" };
                options.ServerInstructions = "Each workflow is a tool: calling it submits a job and returns job_id and status_url at once "
                    + "(or, called as an MCP task, a task whose id is the job id: follow it with tasks/get and tasks/result). "
                    + "Follow the job with get_job until its status is completed, failed or cancelled (mcp_task_status input_required means it waits for a person or a signal); cancel it with cancel_job.";
                AddTasks(options);
            })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithListToolsHandler((request, cancellationToken) => Tools(request.Services).ListAsync(cancellationToken));
        return services;
    }

#pragma warning disable MCPEXP002 // The SDK's extension points for a feature it does not ship: MCP Tasks (WorkflowMcpTasks).
    private static void AddTasks(ModelContextProtocol.Server.McpServerOptions options)
    {
        options.Handlers.CallToolWithAlternateHandler = async (request, cancellationToken) =>
        {
            var result = await Tools(request.Services).CallAsync(request.Params, request.User, cancellationToken);
            // A task-augmented call (params.task) of a workflow tool is answered with a task backed by its job.
            return request.JsonRpcRequest.Params?["task"] is JsonObject && WorkflowMcpTools.IsWorkflowTool(request.Params?.Name)
                ? WorkflowMcpTasks.Created(result)
                : result;
        };
        options.RequestHandlers =
        [
            TaskHandler(WorkflowMcpTasks.Get, (tasks, request, ct) => tasks.GetAsync(request.Params, request.User, ct)),
            TaskHandler(WorkflowMcpTasks.Result, (tasks, request, ct) => tasks.ResultAsync(request.Params, request.User, ct)),
            TaskHandler(WorkflowMcpTasks.Cancel, (tasks, request, ct) => tasks.CancelAsync(request.Params, request.User, ct)),
        ];
        options.Filters.Message.OutgoingFilters.Add(next => (context, cancellationToken) =>
        {
            if (context.JsonRpcMessage is JsonRpcResponse { Result: JsonObject result })
            {
                WorkflowMcpTasks.Declare(result);
            }

            return next(context, cancellationToken);
        });
    }

    private static ModelContextProtocol.Server.McpServerRequestHandler TaskHandler(
        string method, Func<WorkflowMcpTasks, ModelContextProtocol.Server.RequestContext<JsonNode?>, CancellationToken, Task<JsonNode>> handle) => new()
    {
        Method = method,
        Handler = async (request, cancellationToken) =>
            await handle((request.Services ?? throw new InvalidOperationException("The MCP request has no service scope.")).GetRequiredService<WorkflowMcpTasks>(), request, cancellationToken),
    };
#pragma warning restore MCPEXP002

    /// <summary>Maps the MCP endpoint; callers need a caller key like every <c>/api/v1</c> route.</summary>
    public static IEndpointConventionBuilder MapWorkflowMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Route).RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy).WithTags("MCP").ExcludeFromDescription();

    private static WorkflowMcpTools Tools(IServiceProvider? services) =>
        (services ?? throw new InvalidOperationException("The MCP request has no service scope.")).GetRequiredService<WorkflowMcpTools>();
}
