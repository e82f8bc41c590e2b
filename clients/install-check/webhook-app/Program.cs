// A new ASP.NET Core app that added the packed LlmWorkflow.Client.Webhooks: the README's webhook endpoint, built as
// written there (the test builds it; LlmWorkflow.Tests/Clients/ClientPackagesTests runs the same code in the sample).
using LlmWorkflow.Client;
using StandardWebhooks.Diagnostics;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddLlmWorkflowClient(o =>
{
    o.BaseAddress = new Uri(builder.Configuration["LlmService:Url"] ?? "http://localhost:5080");
    o.ApiKey = builder.Configuration["LlmService:ApiKey"] ?? "key";
});
var webhookSecret = builder.Configuration["LlmService:WebhookSecret"] ?? "secret";
var app = builder.Build();

app.MapPost("/api/webhooks/llm-callback", async (HttpRequest request) =>
{
    try
    {
        var delivery = await LlmWorkflowWebhooks.VerifyAsync(request, webhookSecret);
        if (delivery.Event == "workflow.completed")
        {
            var body = delivery.AsTerminal();
            app.Logger.LogInformation("job {JobId} completed", body.JobId);
        }

        return Results.Ok();
    }
    catch (WebhookVerificationException)
    {
        return Results.Unauthorized();
    }
});

app.Run();
