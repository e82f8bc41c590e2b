using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.LoadTest;

/// <summary>An OpenAI-compatible chat completions endpoint that answers every request after a fixed delay.</summary>
internal sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeLlmServer(WebApplication app) => _app = app;

    public Uri ApiUrl { get; private set; } = null!;

    public static async Task<FakeLlmServer> StartAsync(TimeSpan latency)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxConcurrentConnections = null);
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            await Task.Delay(latency, context.RequestAborted);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""
                {"id":"bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"42"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}
                """, context.RequestAborted);
        });
        await app.StartAsync();
        var server = new FakeLlmServer(app);
        server.ApiUrl = new Uri(app.Urls.First().TrimEnd('/') + "/v1/");
        return server;
    }

    /// <summary>
    /// Answers <paramref name="concurrency"/> requests at once before the measurement, so the fake's own JIT and
    /// thread-pool growth (a real provider is never cold) are not counted against the worker.
    /// </summary>
    public async Task WarmUpAsync(int concurrency)
    {
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = TimeSpan.FromMinutes(2) };
        var url = new Uri(ApiUrl, "chat/completions");
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            using var response = await http.PostAsync(url, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
        }));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
