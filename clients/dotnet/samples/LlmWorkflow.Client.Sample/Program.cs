// A .NET main app in miniature, against a running LlmWorkflow service: submit a job with an idempotency key (twice:
// the second is the same job), follow it live (dropping the connection once and resuming it), read a typed error,
// and receive and verify the service's webhook on this app's own endpoint. Environment: LLM_SERVICE_URL,
// LLM_SERVICE_API_SECRET, LLM_WEBHOOK_SECRET and WEBHOOK_RECEIVER_PORT (the port the service's webhook URL names).
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmWorkflow.Client;
using LlmWorkflow.Contracts;
using StandardWebhooks.Diagnostics;

var serviceUrl = new Uri(Required("LLM_SERVICE_URL"));
var webhookSecret = Required("LLM_WEBHOOK_SECRET");
var port = int.Parse(Required("WEBHOOK_RECEIVER_PORT"), System.Globalization.CultureInfo.InvariantCulture);

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.Services.AddLlmWorkflowClient(o =>
{
    o.BaseAddress = serviceUrl;
    o.ApiKey = Required("LLM_SERVICE_API_SECRET");
});

// The app's webhook endpoint: verify the signature over the raw body before trusting anything in it.
var received = new ConcurrentDictionary<Guid, WebhookDelivery>();
var app = builder.Build();
app.MapPost("/api/webhooks/llm-callback", async (HttpRequest request, CancellationToken cancellationToken) =>
{
    try
    {
        var delivery = await LlmWorkflowWebhooks.VerifyAsync(request, webhookSecret, cancellationToken);
        if (delivery.IsTerminal)
        {
            received[delivery.JobId] = delivery;
        }

        return Results.Ok();
    }
    catch (WebhookVerificationException)
    {
        return Results.Unauthorized();
    }
});
await app.StartAsync();

try
{
    var llm = app.Services.GetRequiredService<LlmWorkflowClient>();

    // 1. Submit with a key derived from the work; the same call again is the same job.
    var request = new SubmitWorkflowRequest
    {
        WorkflowName = "trip_briefing",
        InputData = new JsonObject
        {
            ["traveler"] = "Grace", ["destination"] = "Porto", ["start_date"] = "2026-06-01", ["days"] = 2, ["interests"] = new JsonArray("music"),
        },
        UserId = "sample-user",
        Action = "plan a trip",
    };
    var key = $"trip-{Guid.NewGuid()}";
    var first = await llm.SubmitAsync(request, key);
    var second = await llm.SubmitAsync(request, key);
    Check(!first.Replayed && second.Replayed && second.Job.JobId == first.Job.JobId, $"the repeated submit started another job: {second}");
    var jobId = first.Job.JobId;

    // 2. Follow it live: stop after the first step starts (a dropped connection), then resume from that event.
    var seen = new List<LiveEventMessage>();
    await foreach (var message in llm.EventsAsync(jobId))
    {
        seen.Add(message);
        if (message.Event is StepStartedEvent)
        {
            break;
        }
    }

    var resumeAt = seen[^1].Id;
    await foreach (var message in llm.EventsAsync(jobId, lastEventId: resumeAt))
    {
        seen.Add(message);
    }

    Check(seen.Select(m => m.Id).Distinct().Count() == seen.Count, "an event came twice");
    Check(seen[^1].Event is RunCompletedEvent, $"the stream ended with {seen[^1].Type}");
    var steps = seen.Count(m => m.Event is StepCompletedEvent);

    // 3. Polling with backoff agrees, and a job that does not exist is a typed exception.
    var status = await llm.WaitForCompletionAsync(jobId, new WaitOptions { Timeout = TimeSpan.FromMinutes(1) });
    Check(status.Status == JobStatusValues.Completed && status.Result is not null, $"status {status.Status}");
    try
    {
        await llm.GetJobStatusAsync(Guid.NewGuid());
        Check(false, "an unknown job was found");
    }
    catch (LlmWorkflowNotFoundException notFound)
    {
        Check(notFound.Kind == ProblemKind.NotFound, $"an unknown job gave {notFound.Kind}");
    }

    // 4. The service's webhook reached this app's endpoint, which verified it.
    var deadline = DateTimeOffset.UtcNow.AddMinutes(1);
    WebhookDelivery? hook;
    while (!received.TryGetValue(jobId, out hook) && DateTimeOffset.UtcNow < deadline)
    {
        await Task.Delay(100);
    }

    Check(hook?.Event == "workflow.completed", $"no verified workflow.completed webhook for {jobId}");
    var body = hook!.AsTerminal();

    // 5. A forged delivery is refused.
    using var http = new HttpClient();
    using var forged = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/api/webhooks/llm-callback")
    {
        Content = new StringContent(hook.Body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
    };
    forged.Headers.Add("webhook-id", "msg_forged");
    forged.Headers.Add("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
    forged.Headers.Add("webhook-signature", "v1,AAAA");
    var refused = await http.SendAsync(forged);
    Check((int)refused.StatusCode == 401, $"a forged webhook got {(int)refused.StatusCode}");

    Console.WriteLine($"dotnet sample: job {jobId} {seen.Count} live events ({steps} steps, resumed after {resumeAt}), " +
                      $"webhook {hook.Event} verified (cost_usd {body.Metadata.CostUsd}), forged webhook refused");
}
finally
{
    await app.StopAsync();
}

static string Required(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"{name} is not set");

static void Check(bool condition, string message)
{
    if (!condition)
    {
        throw new InvalidOperationException(message);
    }
}
