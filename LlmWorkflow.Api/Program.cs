var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/", () => "LlmWorkflow");
app.Run();

/// <summary>Entry point marker for WebApplicationFactory.</summary>
public partial class Program;
