using LlmWorkflow.AppHost.Hosting;

// The local distributed application: `dotnet run --project LlmWorkflow.AppHost [-- --workers 3]`.
// `-- --publisher manifest --output-path <file>` writes the same model as an Aspire manifest instead of running it.
var builder = DistributedApplication.CreateBuilder(args);

// Local development keys, unless the environment provides real ones (the API refuses to start without any);
// in the manifest they are secret parameters the deployment tool asks for.
var apiKey = builder.AddParameter("api-key", Environment.GetEnvironmentVariable("LLM_MICROSERVICE_API_KEY") ?? "dev-api-key", secret: true);
var adminKey = builder.AddParameter("admin-key", Environment.GetEnvironmentVariable("ADMIN_API_KEY") ?? "dev-admin-key", secret: true);

var postgres = builder.AddPostgres("postgres").WithDatabase("llmworkflow");
var redis = builder.AddRedis("redis");

var api = builder.AddProject("api", "LlmWorkflow.Api/LlmWorkflow.Api.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithHttpEndpoint(port: builder.Options.ApiPort)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health")
    .WithEnvironment("LLM_MICROSERVICE_API_KEY", apiKey)
    .WithEnvironment("ADMIN_API_KEY", adminKey);

var worker = builder.AddProject("worker", "LlmWorkflow.Worker/LlmWorkflow.Worker.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithReplicas(builder.Options.Workers, idVariable: "Worker__Id")
    .WithReadyLogLine("Worker started");

if (builder.ExecutionContext.IsRunMode)
{
    // Local webhook receivers listen on loopback, which production refuses.
    api.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
    worker.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
}

return await builder.Build().RunAsync();
