using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace LlmWorkflow.Api.Infrastructure.OpenApi;

/// <summary>
/// The OpenAPI document (<c>/openapi/v1.json</c>): title, description, auth scheme (both key headers), tag
/// descriptions, and the transformers that make it exact. Shown by Swagger UI at /docs and Scalar at /scalar.
/// </summary>
internal static class OpenApiDocumentSetup
{
    public static IServiceCollection AddLlmWorkflowOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddSchemaTransformer<OpenApiNumberTypes>().AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "LlmWorkflow API",
                Version = "v1",
                Description = "Submit JSON-defined LLM workflows, follow them by polling, Server-Sent Events or signed webhooks, " +
                              "and operate the service. Authenticate with X-API-Key (or X-API-Secret); /admin routes need an admin key. " +
                              "The same workflows are MCP tools over Streamable HTTP at /mcp, with the same keys (docs/MCP.md).",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["ApiKey"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-API-Key",
                Description = "The caller or admin key (X-API-Secret is accepted too).",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", document)] = [] });
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
            {
                tag.Description ??= TagDescriptions.GetValueOrDefault(tag.Name ?? "");
            }

            // The health alias and document 004's health are anonymous, like the probes.
            foreach (var path in AnonymousPaths)
            {
                if (document.Paths.TryGetValue(path, out var health) && health.Operations?.GetValueOrDefault(HttpMethod.Get) is { } check)
                {
                    check.Security = [];
                }
            }

            return Task.CompletedTask;
        }).AddDocumentTransformer<OpenApiContractTransformer>());

    /// <summary>The routes that need no key.</summary>
    public static readonly IReadOnlySet<string> AnonymousPaths = new HashSet<string>(StringComparer.Ordinal) { "/api/v1/health", "/generator/health" };

    private static readonly Dictionary<string, string> TagDescriptions = new()
    {
        [Generator.ProjectGeneratorEndpoints.Tag] = "Document 004's project generator service (POST /start, GET /events/stream, GET /status/{project_id}, " +
                                                   "GET /health) under /generator, with the same keys and tenants as /api/v1. See docs/PROJECT_GENERATOR.md.",
        ["Jobs"] = "Submit workflow runs and follow them: status, list, cancel, retry, delete, live events.",
        ["Workflows"] = "The workflow catalog, diagrams and the dry run.",
        ["Admin"] = "Housekeeping, usage and queue state (admin key).",
        ["Webhooks"] = "Webhook delivery attempts, dead letters and replays (admin key).",
        ["Health"] = "Service health in document 001's shape (no key needed).",
    };

    /// <summary>
    /// Swagger UI at /docs (its middleware runs only for /docs paths, not for every API request) and the Scalar API
    /// reference at /scalar/. Scalar's script is served from its package's assembly; its fonts, telemetry, "Ask AI"
    /// agent, MCP link and developer tools (which reach Scalar's servers) are off, so the reference works offline.
    /// </summary>
    public static WebApplication UseApiDocsUi(this WebApplication app)
    {
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/docs"), docs => docs.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "docs";
            options.SwaggerEndpoint("/openapi/v1.json", "LlmWorkflow API v1");
            options.DocumentTitle = "LlmWorkflow API";
        }));
        app.MapScalarApiReference("/scalar", options => options
            .WithTitle("LlmWorkflow API reference")
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp()
            .HideClientButton()
            .HideDeveloperTools()
            .AddPreferredSecuritySchemes(["ApiKey"]));
        return app;
    }
}
