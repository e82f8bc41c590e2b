using System.Text.Json;
using LlmWorkflow.Api.Agents;
using LlmWorkflow.Api.Approvals;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Generator;
using LlmWorkflow.Api.Infrastructure;
using LlmWorkflow.Api.Infrastructure.OpenApi;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Api.Mcp;
using LlmWorkflow.Contracts;
using LlmWorkflow.Storage;
using LlmWorkflow.Storage.Persistence;

namespace LlmWorkflow.Api;

/// <summary>
/// The API host's composition, one method per part, so that Program.cs reads as the list of what the API hosts: the
/// HTTP conventions, the callers (keys, tenants, limits), the job core, each capability's services and endpoint groups.
/// </summary>
internal static class ApiHostExtensions
{
    /// <summary>The job core: storage, dispatch and the engine (shared with the worker), and the API's submit and commands.</summary>
    public static WebApplicationBuilder AddJobCore(this WebApplicationBuilder builder)
    {
        builder.Services.AddLlmWorkflowCore(builder.Configuration);
        builder.Services.AddApiJobServices();
        builder.EnrichLlmWorkflowDatabase(retryTransientFailures: false);
        builder.AddLlmWorkflowRedis();
        return builder;
    }

    /// <summary>The HTTP conventions: snake_case JSON with a depth limit, the body size limit, problem details, OpenAPI.</summary>
    public static WebApplicationBuilder AddHttpConventions(this WebApplicationBuilder builder)
    {
        var maxJsonDepth = MaxJsonDepth(builder.Configuration);
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.MaxDepth = maxJsonDepth;
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, SubmitJsonContext.Default);
            // The wire payloads shared with the Worker and Cli (the status response among them).
            options.SerializerOptions.TypeInfoResolverChain.Insert(1, WireJsonContext.Default);
        });
        var maxBodyBytes = MaxBodyBytes(builder.Configuration);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxBodyBytes);
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        builder.Services.AddExceptionHandler<DependencyUnavailableExceptionHandler>();
        builder.Services.AddLlmWorkflowOpenApi();
        return builder;
    }

    /// <summary>Who may call: API keys and their tenants, the callers' rate limits, CORS.</summary>
    public static WebApplicationBuilder AddCallers(this WebApplicationBuilder builder)
    {
        builder.Services.AddApiKeyAuth(builder.Configuration);
        builder.Services.AddCallerRateLimits(builder.Configuration);
        builder.Services.AddConfiguredCors(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Before listening: a missing key configuration fails the start instead of the first request; the schema is
    /// migrated; the submitter is built (it loads and validates the workflow catalog: a broken definition stops the
    /// start with its problems) and the first wait estimate reads the queue.
    /// </summary>
    public static async Task PrepareAsync(this WebApplication app)
    {
        app.Services.GetRequiredService<ApiKeyRegistry>();
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
        scope.ServiceProvider.GetRequiredService<JobSubmitter>();
        await scope.ServiceProvider.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, app.Lifetime.ApplicationStopping);
    }

    /// <summary>The request pipeline every endpoint shares: errors, limits, the dashboard's files, docs, CORS, auth, rate limits, hostile input.</summary>
    public static WebApplication UseApiPipeline(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseBodySizeLimit(MaxBodyBytes(app.Configuration));
        app.UseStatusCodePages();
        app.UseMalformedJobIdAnswers();
        // Operations dashboard (wwwroot/dashboard; /dashboard redirects to /dashboard/):
        // files are looked up only outside /api, so API requests do not pay for the file lookups.
        app.UseWhen(context => !context.Request.Path.StartsWithSegments("/api"), files => files.UseDefaultFiles().UseStaticFiles());
        app.UseApiDocsUi();
        app.UseCors();
        app.UseAuthentication();
        app.UseAuthorization();
        var rateLimits = app.Services.GetRequiredService<RateLimitingOptions>();
        if (rateLimits.Enabled)
        {
            // Off by default: then neither the limiter nor the body peek it needs runs at all.
            app.UseSubmissionUserPeek(rateLimits);
            app.UseRateLimiter();
        }

        app.UseHostileInputGuard(MaxJsonDepth(app.Configuration));
        return app;
    }

    /// <summary>
    /// The endpoints: OpenAPI, health, then /api/v1's groups (authenticated, rate-limited when limits are on), each
    /// capability's in its own group. The order is the OpenAPI document's order of operations.
    /// </summary>
    public static WebApplication MapApiEndpoints(this WebApplication app)
    {
        var rateLimited = app.Services.GetRequiredService<RateLimitingOptions>().Enabled;
        app.MapOpenApi();
        app.MapDefaultEndpoints();
        app.MapApiHealth();
        var api = app.MapGroup("/api/v1").RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy);
        if (rateLimited)
        {
            api.RequireRateLimiting(RateLimitingSetup.Policy);
        }

        api.MapGroup("").WithTags("Jobs").MapJobEndpoints().MapEventEndpoints().MapSignalEndpoints().MapForkEndpoints().MapAgentEndpoints();
        api.MapGroup("").WithTags("Workflows").MapWorkflowEndpoints().MapWorkflowVersionEndpoints();
        api.MapGroup("").WithTags("Schedules").MapScheduleEndpoints();
        api.MapGroup("").WithTags("Usage").MapBudgetEndpoints();
        Admin(api, "/admin", "Admin").MapAdminEndpoints().MapAnalyticsEndpoints().MapDashboardEndpoints();
        Admin(api, "/providers", "Providers").MapProviderEndpoints();
        Admin(api, "/admin/keys", "API keys").MapApiKeyEndpoints();
        // Document 004's project generator, beside /api/v1 under its own prefix (its /health would clash with the service's).
        app.MapProjectGenerator(rateLimited);
        // Decision links carry their own capability (a signed token): no API key, outside /api/v1.
        app.MapApprovalEndpoints();
        // The workflows as MCP tools over Streamable HTTP (docs/MCP.md), with the same caller keys as /api/v1.
        app.MapWorkflowMcp();
        Admin(api, "/admin/webhooks", "Webhooks").MapWebhookEndpoints();
        api.MapGroup("").WithTags("Operators").MapOperatorEndpoints();
        Admin(api, "/admin", "Operators").MapOperatorAdminEndpoints();
        return app;
    }

    /// <summary>A group of admin-only endpoints under <paramref name="prefix"/>.</summary>
    private static RouteGroupBuilder Admin(RouteGroupBuilder api, string prefix, string tag) =>
        api.MapGroup(prefix).WithTags(tag).RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy);

    private static int MaxJsonDepth(IConfiguration configuration) => configuration.GetValue("Api:MaxJsonDepth", 32);

    private static long MaxBodyBytes(IConfiguration configuration) => configuration.GetValue<long>("Api:MaxRequestBodyBytes", 1_048_576);
}
