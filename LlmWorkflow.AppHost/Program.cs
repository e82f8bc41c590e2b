using LlmWorkflow.AppHost;

// The local distributed application: `dotnet run --project LlmWorkflow.AppHost [-- --workers 3]`.
// `-- --publisher manifest --output-path <file>` writes the same model as an Aspire manifest instead of running it.
// A missing server program is the newcomer's most likely first problem: one line saying what to install, not a stack trace.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    if (e.ExceptionObject is MissingProgramException missing)
    {
        Console.Error.WriteLine($"Cannot start: {missing.Message}");
        Environment.Exit(1);
    }
};

var builder = DistributedApplication.CreateBuilder(args);
var settings = AppHostSettings.From(builder.Configuration);

// Local development keys, unless the environment provides real ones (the API refuses to start without any);
// in the manifest they are secret parameters the deployment tool asks for.
var apiKey = builder.AddParameter("api-key", DevelopmentKey("LLM_MICROSERVICE_API_KEY", "dev-api-key"), secret: true);
var adminKey = builder.AddParameter("admin-key", DevelopmentKey("ADMIN_API_KEY", "dev-admin-key"), secret: true);
// The API refuses webhook_url without a signing secret; the workers sign with the same one.
var webhookSecret = builder.AddParameter("webhook-secret", DevelopmentKey("LLM_WEBHOOK_SECRET", "dev-webhook-secret"), secret: true);

// Servers of an earlier run still stopping (or a stale postgres lock): say so, wait for them, or say what to do.
if (builder.ExecutionContext.IsRunMode && !EarlierRun.SettleLocalServers(settings.DataDirectory))
{
    return 1;
}

var (database, redis) = Infrastructure.Add(builder, settings);

var api = builder.AddProject<Projects.LlmWorkflow_Api>("api")
    // The services read ConnectionStrings__postgres / ConnectionStrings__redis, not the per-property variables.
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ConnectionString)
    .WithReference(database, connectionName: "postgres").WaitFor(database)
    .WithReference(redis, connectionName: "redis").WaitFor(redis)
    // No proxy in front of the API unless AppHost:Proxied asks for one (README, "The orchestrator's proxy": what it costs).
    .WithHttpEndpoint(port: settings.ApiPort, isProxied: settings.Proxied)
    .WithExternalHttpEndpoints()
    // Ready once it serves (/alive): /health also reports the workers, which register after the API is up.
    .WithHttpHealthCheck("/alive")
    .WithUrls(context =>
    {
        foreach (var (label, path) in ServicePages.Links)
        {
            context.Urls.Add(new() { Url = path, DisplayText = label, Endpoint = context.GetEndpoint("http") });
        }
    })
    .WithEnvironment("LLM_MICROSERVICE_API_KEY", apiKey)
    .WithEnvironment("ADMIN_API_KEY", adminKey)
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret);

var worker = builder.AddProject<Projects.LlmWorkflow_Worker>("worker")
    .WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ConnectionString)
    .WithReference(database, connectionName: "postgres").WaitFor(database)
    .WithReference(redis, connectionName: "redis").WaitFor(redis)
    .WithReplicas(settings.Workers)
    .WithEnvironment("LLM_WEBHOOK_SECRET", webhookSecret);

// Prompt and answer capture for the Aspire dashboard's GenAI view: opt-in (`-- --Llm:Telemetry:CaptureMessages true`).
if (builder.Configuration["Llm:Telemetry:CaptureMessages"] is { Length: > 0 } captureMessages)
{
    worker.WithEnvironment("Llm__Telemetry__CaptureMessages", captureMessages);
}

if (builder.ExecutionContext.IsRunMode)
{
    ConfigureLocalRun(builder, settings, api, worker);
}

var app = builder.Build();
var children = ChildProcesses.Watch(app);
try
{
    app.Run();
}
catch (OperationCanceledException)
{
    // Ctrl+C while the resources were still starting: the same stop, not a stack trace.
    Console.WriteLine("[apphost] stopped before everything had started");
}

// Only when the servers, the api and the workers have exited does the prompt come back.
return children.WaitForAll() ? 0 : 1;

static string DevelopmentKey(string variable, string developmentValue) =>
    Environment.GetEnvironmentVariable(variable) ?? developmentValue;

// Development keys are printed so a newcomer can use them; keys from the environment are real secrets and are not.
static string Shown(string variable, string developmentValue) =>
    Environment.GetEnvironmentVariable(variable) is null ? developmentValue : $"from ${variable} (not shown)";

// What only a local run sets: loopback webhook receivers, short telemetry export timeouts, worker ids that name the
// replica in the Aspire dashboard, the trace link and the summary printed once everything runs.
static void ConfigureLocalRun(
    IDistributedApplicationBuilder builder, AppHostSettings settings,
    IResourceBuilder<ProjectResource> api, IResourceBuilder<ProjectResource> worker)
{
    // Local webhook receivers listen on loopback, which production refuses.
    api.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
    worker.WithEnvironment("Webhooks__AllowPrivateNetworks", "true");
    // On Ctrl+C the Aspire dashboard stops first (0.7 s); each service's last export of traces, metrics and logs then
    // retried against it until the exporter's timeout, one signal after the other: 3 x 2 s held a worker's stop for 6 s
    // (issue 80: a 7-9 s Ctrl+C). The local dashboard answers in milliseconds; an export that times out while it runs
    // is retried (in memory), so 500 ms loses nothing and bounds the last flush at 1.5 s.
    api.WithEnvironment("OTEL_EXPORTER_OTLP_TIMEOUT", "500");
    worker.WithEnvironment("OTEL_EXPORTER_OTLP_TIMEOUT", "500");
    // Each replica's worker id is its name in the Aspire dashboard (worker-<suffix>), so a job's worker_id names it there.
    worker.WithEnvironment("Worker__Id", "worker-{{- index .Annotations \"otel-service-instance-id\" -}}");
    // The service dashboard links a job to its trace in the Aspire dashboard, when one runs.
    api.WithEnvironment(context =>
    {
        if (AspireDashboard.Url(builder) is { } url)
        {
            context.EnvironmentVariables["AspireDashboard__Url"] = url;
        }
    });
    builder.Services.AddHostedService(services => new StartupSummary(services, builder, settings, [
        ("Caller key", $"X-API-Key: {Shown("LLM_MICROSERVICE_API_KEY", "dev-api-key")}"),
        ("Admin key", $"X-API-Key: {Shown("ADMIN_API_KEY", "dev-admin-key")} (also signs in to the dashboard)"),
        ("Webhook secret", $"{Shown("LLM_WEBHOOK_SECRET", "dev-webhook-secret")} (signs webhooks: verify them with it)"),
    ]));
}
