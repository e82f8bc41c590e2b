using LlmWorkflow.AppHost.Hosting;

// The local distributed application: `dotnet run --project LlmWorkflow.AppHost [-- --workers 3]`.
// `-- --publisher manifest --output-path <file>` writes the same model as an Aspire manifest instead of running it.
var builder = DistributedApplication.CreateBuilder(args);

// Local development keys, unless the environment provides real ones (the API refuses to start without any);
// in the manifest they are secret parameters the deployment tool asks for.
var apiKey = builder.AddParameter("api-key", Environment.GetEnvironmentVariable("LLM_MICROSERVICE_API_KEY") ?? "dev-api-key", secret: true);
var adminKey = builder.AddParameter("admin-key", Environment.GetEnvironmentVariable("ADMIN_API_KEY") ?? "dev-admin-key", secret: true);
// The API refuses webhook_url without a signing secret; the workers sign with the same one.
var webhookSecret = builder.AddParameter("webhook-secret", Environment.GetEnvironmentVariable("LLM_WEBHOOK_SECRET") ?? "dev-webhook-secret", secret: true);

var postgres = builder.AddPostgres("postgres").WithDatabase("llmworkflow");
var redis = builder.AddRedis("redis");

var api = builder.AddProject("api", "LlmWorkflow.Api/LlmWorkflow.Api.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithHttpEndpoint(port: builder.Options.ApiPort)
    .WithExternalHttpEndpoints()
    // Ready once it serves (/alive): /health also reports the workers, which register after the API is up.
    .WithHttpHealthCheck("/alive")
    .WithLink("Dashboard", "/dashboard/")
    .WithLink("API docs", "/docs")
    .WithLink("API reference", "/scalar/")
    .WithLink("OpenAPI", "/openapi/v1.json")
    .WithLink("Health", "/health")
    .WithEnvironment("LLM_MICROSERVICE_API_KEY", apiKey)
    .WithEnvironment("ADMIN_API_KEY", adminKey)
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret);

var worker = builder.AddProject("worker", "LlmWorkflow.Worker/LlmWorkflow.Worker.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithReplicas(builder.Options.Workers, idVariable: "Worker__Id")
    .WithReadyLogLine("Worker started")
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret);

if (builder.ExecutionContext.IsRunMode)
{
    // Local webhook receivers listen on loopback, which production refuses.
    api.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
    worker.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
}

builder.AddNote("Caller key", $"X-API-Key: {Shown(apiKey.RunValue, "LLM_MICROSERVICE_API_KEY")}")
    .AddNote("Admin key", $"X-API-Key: {Shown(adminKey.RunValue, "ADMIN_API_KEY")} (also signs in to the dashboard)")
    .AddNote("Webhook secret", $"{Shown(webhookSecret.RunValue, "LLM_WEBHOOK_SECRET")} (signs webhooks: verify them with it)");

return await builder.Build().RunAsync();

// Development keys are printed so a newcomer can use them; keys from the environment are real secrets and are not.
static string Shown(string key, string variable) =>
    Environment.GetEnvironmentVariable(variable) is null ? key : $"from ${variable} (not shown)";
