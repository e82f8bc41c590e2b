using LlmWorkflow.AppHost.Hosting;

namespace LlmWorkflow.Tests.Hosting;

public sealed class ChildEnvironmentTests
{
    private static readonly PostgresServerResource Postgres = new("postgres", "Host=db;Port=5432;Database=llmworkflow", "/unused");
    private static readonly RedisServerResource Redis = new("redis", "cache:6379", "/unused");

    [Fact]
    public void ApiReceivesConnectionStringsUrlAndServiceName()
    {
        var api = new ProjectResource("api", "/repo/LlmWorkflow.Api/LlmWorkflow.Api.csproj")
            .WithReference(Postgres)
            .WithReference(Redis)
            .WithHttpEndpoint(5080)
            .WithEnvironment("Webhooks__AllowPrivateNetworks", "true");

        var variables = ChildEnvironment.Build(api, "api", _ => null);

        Assert.Equal("Host=db;Port=5432;Database=llmworkflow", variables["ConnectionStrings__postgres"]);
        Assert.Equal("cache:6379", variables["ConnectionStrings__redis"]);
        Assert.Equal("http://127.0.0.1:5080", variables["ASPNETCORE_URLS"]);
        Assert.Equal("api", variables["OTEL_SERVICE_NAME"]);
        Assert.Equal("Development", variables["ASPNETCORE_ENVIRONMENT"]);
        Assert.Equal("Development", variables["DOTNET_ENVIRONMENT"]);
        Assert.Equal("true", variables["Webhooks__AllowPrivateNetworks"]);
        Assert.False(variables.ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT"));
    }

    [Fact]
    public void WorkerReplicasAreToldTheirNamesAndInheritTheOtlpEndpoint()
    {
        var worker = new ProjectResource("worker", "/repo/LlmWorkflow.Worker/LlmWorkflow.Worker.csproj")
            .WithReference(Postgres)
            .WithReplicas(2, idVariable: "Worker__Id");
        var parent = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4317" };

        var variables = ChildEnvironment.Build(worker, "worker-2", parent.GetValueOrDefault);

        Assert.Equal(["worker-1", "worker-2"], worker.ReplicaNames);
        Assert.Equal("worker-2", variables["Worker__Id"]);
        Assert.Equal("worker-2", variables["OTEL_SERVICE_NAME"]);
        Assert.Equal("http://localhost:4317", variables["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.False(variables.ContainsKey("ASPNETCORE_URLS"));
        Assert.False(variables.ContainsKey("ConnectionStrings__redis"));
    }
}
