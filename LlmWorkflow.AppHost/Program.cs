using LlmWorkflow.AppHost.Hosting;

// The local distributed application: `dotnet run --project LlmWorkflow.AppHost [-- --workers 3]`.
var builder = DistributedApplication.CreateBuilder(args);

// Local development keys, unless the environment provides real ones (the API refuses to start without any).
var apiKey = Environment.GetEnvironmentVariable("LLM_MICROSERVICE_API_KEY") ?? "dev-api-key";
var adminKey = Environment.GetEnvironmentVariable("ADMIN_API_KEY") ?? "dev-admin-key";
// The API refuses webhook_url without a signing secret; the workers sign with the same one.
var webhookSecret = Environment.GetEnvironmentVariable("LLM_WEBHOOK_SECRET") ?? "dev-webhook-secret";

var postgres = builder.AddPostgres("postgres").WithDatabase("llmworkflow");
var redis = builder.AddRedis("redis");

builder.AddProject("api", "LlmWorkflow.Api/LlmWorkflow.Api.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithHttpEndpoint(port: builder.Options.ApiPort)
    // Ready once it serves (/alive): /health also reports the workers, which register after the API is up.
    .WithHttpHealthCheck("/alive")
    .WithLink("Dashboard", "/dashboard/")
    .WithLink("API docs", "/docs")
    .WithLink("API reference", "/scalar/")
    .WithLink("OpenAPI", "/openapi/v1.json")
    .WithLink("Health", "/health")
    .WithEnvironment("LLM_MICROSERVICE_API_KEY", apiKey)
    .WithEnvironment("ADMIN_API_KEY", adminKey)
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret)
    // Local webhook receivers listen on loopback, which production refuses.
    .WithEnvironment("Webhooks__AllowPrivateNetworks", "true");

builder.AddProject("worker", "LlmWorkflow.Worker/LlmWorkflow.Worker.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithReplicas(builder.Options.Workers, idVariable: "Worker__Id")
    .WithReadyLogLine("Worker started")
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret)
    .WithEnvironment("Webhooks__AllowPrivateNetworks", "true");

builder.AddNote("Caller key", $"X-API-Key: {Shown(apiKey, "LLM_MICROSERVICE_API_KEY")}")
    .AddNote("Admin key", $"X-API-Key: {Shown(adminKey, "ADMIN_API_KEY")} (also signs in to the dashboard)")
    .AddNote("Webhook secret", $"{Shown(webhookSecret, "LLM_WEBHOOK_SECRET")} (signs webhooks: verify them with it)");

return await builder.Build().RunAsync();

// Development keys are printed so a newcomer can use them; keys from the environment are real secrets and are not.
static string Shown(string key, string variable) =>
    Environment.GetEnvironmentVariable(variable) is null ? key : $"from ${variable} (not shown)";
