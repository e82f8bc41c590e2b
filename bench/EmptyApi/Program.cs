using System.Text.Json;
using System.Text.Json.Serialization;

// The least a submission endpoint can do: read the JSON body into a record and answer 202 with a new id.
// Its appsettings.json is beside the assembly, as the API's is; the load tool starts it from elsewhere.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.ConfigureHttpJsonOptions(options =>
{
    options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    options.SerializerOptions.TypeInfoResolverChain.Insert(0, EmptyApiJson.Default);
});
var app = builder.Build();
app.MapGet("/health", () => "Healthy");
app.MapPost("/api/v1/workflow", (Submission submission) => string.IsNullOrEmpty(submission.WorkflowName)
    ? Results.BadRequest()
    : Results.Json(new Accepted(Guid.CreateVersion7(), "queued"), statusCode: StatusCodes.Status202Accepted));
await app.RunAsync();

internal sealed record Submission(string WorkflowName, JsonElement InputData);

internal sealed record Accepted(Guid JobId, string Status);

[JsonSerializable(typeof(Submission))]
[JsonSerializable(typeof(Accepted))]
internal sealed partial class EmptyApiJson : JsonSerializerContext;
