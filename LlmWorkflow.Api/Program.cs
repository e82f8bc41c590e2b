using LlmWorkflow.Api;
using LlmWorkflow.Api.Agents;
using LlmWorkflow.Api.Generator;
using LlmWorkflow.Api.Mcp;

// Settings and static files sit beside the assembly, so the API reads the same appsettings.json wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory, EnvironmentName = LlmWorkflow.ServiceDefaults.Configuration.PlatformEnvironmentVariables.HostEnvironmentName() });
builder.AddServiceDefaults();
builder.AddJobCore().AddHttpConventions().AddCallers().AddGenerator().AddMcp().AddAgents();

var app = builder.Build();
await app.PrepareAsync();
app.UseApiPipeline().MapApiEndpoints();
await app.RunAsync();
