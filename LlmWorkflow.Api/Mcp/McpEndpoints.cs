using LlmWorkflow.Api.Auth;
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
        services.AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = "llmworkflow", Version = typeof(McpEndpoints).Assembly.GetName().Version?.ToString() ?? "1.0.0" };
                options.ServerInstructions = "Each workflow is a tool: calling it submits a job and returns job_id and status_url at once. "
                    + "Follow the job with get_job until its status is completed, failed or cancelled (mcp_task_status input_required means it waits for a person or a signal); cancel it with cancel_job.";
            })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithListToolsHandler((request, cancellationToken) => Tools(request.Services).ListAsync(cancellationToken))
            .WithCallToolHandler((request, cancellationToken) => Tools(request.Services).CallAsync(request.Params, request.User, cancellationToken));
        return services;
    }

    /// <summary>Maps the MCP endpoint; callers need a caller key like every <c>/api/v1</c> route.</summary>
    public static IEndpointConventionBuilder MapWorkflowMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Route).RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy).WithTags("MCP").ExcludeFromDescription();

    private static WorkflowMcpTools Tools(IServiceProvider? services) =>
        (services ?? throw new InvalidOperationException("The MCP request has no service scope.")).GetRequiredService<WorkflowMcpTools>();
}
