using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.External;

/// <summary>
/// A real Kestrel server whose endpoints fail in scripted ways, counting the hits per path:
/// <c>/flaky</c> 503 twice then 200, <c>/throttled</c> 429 with <c>Retry-After: 1</c> once then 200,
/// <c>/bad</c> always 400, <c>/down</c> always 500, <c>/slow</c> hangs on the first hit then answers 200.
/// </summary>
internal sealed class ScriptedHttpServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, int> _hits = new();
    private LoopbackWebApp? _app;

    public Uri BaseAddress => _app!.BaseAddress;

    public int Hits(string path) => _hits.GetValueOrDefault(path);

    public static async Task<ScriptedHttpServer> StartAsync(CancellationToken cancellationToken)
    {
        var server = new ScriptedHttpServer();
        server._app = await LoopbackWebApp.StartAsync(
            builder => builder.Logging.ClearProviders(),
            app => app.Run(server.AnswerAsync),
            cancellationToken);
        return server;
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!;
        var hit = _hits.AddOrUpdate(path, 1, (_, n) => n + 1);
        switch (path)
        {
            case "/flaky":
                context.Response.StatusCode = hit <= 2 ? 503 : 200;
                break;
            case "/throttled" when hit == 1:
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "1";
                break;
            case "/throttled":
                context.Response.StatusCode = 200;
                break;
            case "/bad":
                context.Response.StatusCode = 400;
                break;
            case "/down":
                context.Response.StatusCode = 500;
                break;
            case "/slow" when hit == 1:
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                break;
            default:
                context.Response.StatusCode = 200;
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
