using System.Text.Json;
using LlmWorkflow.Api.Approvals;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Contracts;
using LlmWorkflow.Contracts;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Generator;
using LlmWorkflow.Api.Infrastructure;
using LlmWorkflow.Api.Infrastructure.OpenApi;
using LlmWorkflow.Api.Jobs;
using LlmWorkflow.Engine;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Storage.Persistence;
using LlmWorkflow.Storage;

// Settings and static files sit beside the assembly, so the API reads the same appsettings.json wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory, EnvironmentName = LlmWorkflow.ServiceDefaults.Configuration.PlatformEnvironmentVariables.HostEnvironmentName() });

builder.AddServiceDefaults();
builder.Services.AddLlmWorkflowCore(builder.Configuration);
builder.Services.AddApiJobServices();
builder.EnrichLlmWorkflowDatabase(retryTransientFailures: false);
builder.AddLlmWorkflowRedis();

var maxJsonDepth = builder.Configuration.GetValue("Api:MaxJsonDepth", 32);
builder.Services.ConfigureHttpJsonOptions(options =>
{
    options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    options.SerializerOptions.MaxDepth = maxJsonDepth;
    options.SerializerOptions.TypeInfoResolverChain.Insert(0, SubmitJsonContext.Default);
    // The wire payloads shared with the Worker and Cli (the status response among them).
    options.SerializerOptions.TypeInfoResolverChain.Insert(1, WireJsonContext.Default);
});
var maxBodyBytes = builder.Configuration.GetValue<long>("Api:MaxRequestBodyBytes", 1_048_576);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxBodyBytes);
builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
builder.Services.AddExceptionHandler<DependencyUnavailableExceptionHandler>();
builder.Services.AddLlmWorkflowOpenApi();
builder.Services.AddApiKeyAuth(builder.Configuration);
builder.Services.AddCallerRateLimits(builder.Configuration);
builder.Services.AddConfiguredCors(builder.Configuration);
builder.Services.AddProjectGenerator(builder.Configuration);

var app = builder.Build();

// Fail fast on a missing key configuration instead of at the first request.
app.Services.GetRequiredService<ApiKeyRegistry>();

await using (var scope = app.Services.CreateAsyncScope())
{
    await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
    // Before listening rather than on the first submission: building the submitter loads and validates the workflow
    // catalog (a broken definition stops the start with its problems), and the first wait estimate reads the queue.
    scope.ServiceProvider.GetRequiredService<JobSubmitter>();
    await scope.ServiceProvider.GetRequiredService<QueueWaitEstimator>().EstimateSecondsAsync(0, app.Lifetime.ApplicationStopping);
}

app.UseExceptionHandler();
app.UseBodySizeLimit(maxBodyBytes);
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

app.UseHostileInputGuard(maxJsonDepth);

app.MapOpenApi();
app.MapDefaultEndpoints();
app.MapApiHealth();
var api = app.MapGroup("/api/v1").RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy);
if (rateLimits.Enabled)
{
    api.RequireRateLimiting(RateLimitingSetup.Policy);
}

api.MapGroup("").WithTags("Jobs").MapJobEndpoints().MapEventEndpoints().MapSignalEndpoints().MapForkEndpoints();
api.MapGroup("").WithTags("Workflows").MapWorkflowEndpoints().MapWorkflowVersionEndpoints();
api.MapGroup("").WithTags("Schedules").MapScheduleEndpoints();
api.MapGroup("").WithTags("Usage").MapBudgetEndpoints();
api.MapGroup("/admin").WithTags("Admin").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapAdminEndpoints().MapAnalyticsEndpoints().MapDashboardEndpoints();
api.MapGroup("/providers").WithTags("Providers").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapProviderEndpoints();
api.MapGroup("/admin/keys").WithTags("API keys").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapApiKeyEndpoints();
// Document 004's project generator, beside /api/v1 under its own prefix (its /health would clash with the service's).
app.MapProjectGenerator(rateLimits.Enabled);
// Decision links carry their own capability (a signed token): no API key, outside /api/v1.
app.MapApprovalEndpoints();
api.MapGroup("/admin/webhooks").WithTags("Webhooks").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapWebhookEndpoints();
api.MapGroup("").WithTags("Operators").MapOperatorEndpoints();
api.MapGroup("/admin").WithTags("Operators").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapOperatorAdminEndpoints();

await app.RunAsync();
