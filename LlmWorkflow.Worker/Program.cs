using LlmWorkflow.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.AddWorkerServices();

var host = builder.Build();
await host.MigrateDatabaseAsync();
await host.RunAsync();
