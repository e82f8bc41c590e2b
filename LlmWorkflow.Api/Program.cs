using System.Text.Json;
using LlmWorkflow.Api.Endpoints;
using LlmWorkflow.Api.Infrastructure;
using LlmWorkflow.Engine;
using LlmWorkflow.Engine.Persistence;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddLlmWorkflowCore(builder.Configuration);

builder.Services.ConfigureHttpJsonOptions(options =>
{
    options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    options.SerializerOptions.MaxDepth = builder.Configuration.GetValue("Api:MaxJsonDepth", 32);
});
builder.WebHost.ConfigureKestrel(kestrel =>
    kestrel.Limits.MaxRequestBodySize = builder.Configuration.GetValue<long>("Api:MaxRequestBodyBytes", 1_048_576));
builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
builder.Services.AddOpenApi();

var app = builder.Build();

await using (var scope = app.Services.CreateAsyncScope())
{
    await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
}

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapOpenApi();
app.MapDefaultEndpoints();
app.MapGroup("/api/v1").WithTags("Jobs").MapJobEndpoints();

await app.RunAsync();

/// <summary>Entry point marker for WebApplicationFactory in the tests.</summary>
public partial class Program;
