using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.LoadTest;

/// <summary>
/// Runs the load generator's own submit code (HttpClient, connection pool, JSON) against a stand-in endpoint in this
/// process before a measurement, so a scenario that times a fresh API does not also time the load generator's JIT.
/// The stand-in answers as the API does (202 and a small JSON body); the measured client then opens new connections.
/// </summary>
internal static class LoadGeneratorWarmup
{
    public static async Task RunAsync(int requests, int concurrency)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapPost("/api/v1/workflow", async (HttpContext context) =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"job_id":"00000000-0000-0000-0000-000000000000","status":"queued"}""", context.RequestAborted);
        });
        await app.StartAsync();
        using var submitter = new Submitter(new Uri(app.Urls.First())).Configure();
        await submitter.SubmitManyAsync("bench_transform", requests, i => new { name = $"job {i}" }, concurrency);
        await app.StopAsync();
    }
}
