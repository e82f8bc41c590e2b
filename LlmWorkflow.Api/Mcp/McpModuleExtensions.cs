namespace LlmWorkflow.Api.Mcp;

/// <summary>MCP's part of the API host's composition.</summary>
internal static class McpModuleExtensions
{
    /// <summary>The workflows as MCP tools over Streamable HTTP (docs/MCP.md).</summary>
    public static WebApplicationBuilder AddMcp(this WebApplicationBuilder builder)
    {
        builder.Services.AddWorkflowMcpServer();
        return builder;
    }
}
