using System.Text.Json;
using Hangfire;
using Hangfire.PostgreSql;

// The S2 yardstick a .NET team would pick: Hangfire 1.8 with Hangfire.PostgreSql, set up as their documentation
// shows, the server in this process with its default options (WorkerCount = min(5 × cores, 20)). POST /jobs reads a
// submission as the API's POST /api/v1/workflow does and enqueues the same trivial job; GET /stats tells the driver
// (bench/yardsticks/run.sh) how many have succeeded, so it can wait for the drain.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var connectionString = builder.Configuration.GetConnectionString("postgres")
    ?? throw new InvalidOperationException("ConnectionStrings__postgres is not set");
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
builder.Services.AddHangfire(configuration => configuration
    .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
    .UseSimpleAssemblyNameTypeSerializer()
    .UseRecommendedSerializerSettings()
    .UsePostgreSqlStorage(options => options.UseNpgsqlConnection(connectionString)));
builder.Services.AddHangfireServer();
var app = builder.Build();
app.MapGet("/health", () => "Healthy");
app.MapPost("/jobs", (Submission submission, IBackgroundJobClient jobs) =>
{
    var name = submission.InputData.TryGetProperty("name", out var value) ? value.GetString() ?? "" : "";
    var id = jobs.Enqueue(() => Greeting.For(name));
    return Results.Json(new Accepted(id, "queued"), statusCode: StatusCodes.Status202Accepted);
});
app.MapGet("/stats", (JobStorage storage) => new Stats(storage.GetMonitoringApi().SucceededListCount()));
await app.RunAsync();

internal sealed record Submission(string WorkflowName, JsonElement InputData);

internal sealed record Accepted(string JobId, string Status);

internal sealed record Stats(long Succeeded);

/// <summary>The job: the same work as the service's one-transform job and BullMQ's, a greeting built from the input.</summary>
public static class Greeting
{
    public static string For(string name) => $"Hello, {name}!";
}
