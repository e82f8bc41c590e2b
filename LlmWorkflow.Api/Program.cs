using System.Text.Json;
using LlmWorkflow.Api.Auth;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Infrastructure;
using LlmWorkflow.Api.Infrastructure.OpenApi;
using LlmWorkflow.Engine;
using LlmWorkflow.Pipeline.Persistence;
using LlmWorkflow.Pipeline;

// Settings and static files sit beside the assembly, so the API reads the same appsettings.json wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.Services.AddLlmWorkflowCore(builder.Configuration);

var maxJsonDepth = builder.Configuration.GetValue("Api:MaxJsonDepth", 32);
builder.Services.ConfigureHttpJsonOptions(options =>
{
    options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    options.SerializerOptions.MaxDepth = maxJsonDepth;
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

var app = builder.Build();

// Fail fast on a missing key configuration instead of at the first request.
app.Services.GetRequiredService<ApiKeyRegistry>();

await using (var scope = app.Services.CreateAsyncScope())
{
    await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
}

app.UseExceptionHandler();
app.UseBodySizeLimit(maxBodyBytes);
app.UseStatusCodePages();
// Operations dashboard: plain files in wwwroot/dashboard; /dashboard redirects to /dashboard/ (index.html).
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseCors();
app.UseAuthentication();
app.UseAuthorization();
app.UseSubmissionUserPeek(app.Services.GetRequiredService<RateLimitingOptions>());
app.UseRateLimiter();
app.UseHostileInputGuard(maxJsonDepth);

app.MapApiDocs();
app.MapDefaultEndpoints();
app.MapApiHealth();
var api = app.MapGroup("/api/v1").RequireAuthorization(AuthServiceCollectionExtensions.CallerPolicy).RequireRateLimiting(RateLimitingSetup.Policy);
api.MapGroup("").WithTags("Jobs").MapJobEndpoints().MapEventEndpoints();
api.MapGroup("").WithTags("Workflows").MapWorkflowEndpoints();
api.MapGroup("/admin").WithTags("Admin").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapAdminEndpoints().MapAnalyticsEndpoints();
api.MapGroup("/admin/keys").WithTags("API keys").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapApiKeyEndpoints();
api.MapGroup("/admin/webhooks").WithTags("Webhooks").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy).MapWebhookEndpoints();

await app.RunAsync();
