using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>The OpenAPI document's title, description and auth scheme (both key headers), shown by Swagger UI at /docs.</summary>
internal static class OpenApiDocumentSetup
{
    public static IServiceCollection AddLlmWorkflowOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "LlmWorkflow API",
                Version = "v1",
                Description = "Submit JSON-defined LLM workflows, follow them by polling, Server-Sent Events or signed webhooks, " +
                              "and operate the service. Authenticate with X-API-Key (or X-API-Secret); /admin routes need an admin key.",
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
            return Task.CompletedTask;
        }));

    public static WebApplication MapApiDocs(this WebApplication app)
    {
        app.MapOpenApi();
        app.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "docs";
            options.SwaggerEndpoint("/openapi/v1.json", "LlmWorkflow API v1");
            options.DocumentTitle = "LlmWorkflow API";
        });
        return app;
    }
}
