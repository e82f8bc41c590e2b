using LlmWorkflow.AppHost.Hosting;

// The local distributed application: `dotnet run --project LlmWorkflow.AppHost [-- --workers 3]`.
var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddPostgres("postgres").WithDatabase("llmworkflow");
var redis = builder.AddRedis("redis");

builder.AddProject("api", "LlmWorkflow.Api/LlmWorkflow.Api.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithHttpEndpoint(port: builder.Options.ApiPort)
    .WithHttpHealthCheck("/health")
    // Local webhook receivers listen on loopback, which production refuses.
    .WithEnvironment("Webhooks__AllowPrivateNetworks", "true");

builder.AddProject("worker", "LlmWorkflow.Worker/LlmWorkflow.Worker.csproj")
    .WithReference(postgres)
    .WithReference(redis)
    .WithReplicas(builder.Options.Workers, idVariable: "Worker__Id")
    .WithReadyLogLine("Worker started")
    .WithEnvironment("Webhooks__AllowPrivateNetworks", "true");

return await builder.Build().RunAsync();
