using LlmWorkflow.Worker;

// Settings sit beside the assembly, so the worker reads the same appsettings.json wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory, EnvironmentName = LlmWorkflow.ServiceDefaults.Configuration.PlatformEnvironmentVariables.HostEnvironmentName() });
builder.AddWorkerServices();

var host = builder.Build();
await host.MigrateDatabaseAsync();
await host.RunAsync();
