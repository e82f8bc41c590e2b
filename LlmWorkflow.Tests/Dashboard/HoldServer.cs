using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// A local endpoint that holds every request open until the test releases it (or the caller gives up), so a step that
/// calls it is still running whenever the test acts, however loaded the machine; after the release it answers at once.
/// </summary>
internal sealed class HoldServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    private HoldServer(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    /// <summary>Requests currently held.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    public static async Task<HoldServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        var server = new HoldServer(builder.Build());
        server._app.MapGet("/hold", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server._waiting);
            try
            {
                await server._release.Task.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The worker gave up on the call (cancelled or timed out): nothing to answer.
            }
            finally
            {
                Interlocked.Decrement(ref server._waiting);
            }

            return Results.Json(new { text = "released" });
        });
        await server._app.StartAsync();
        server.Url = server._app.Urls.First().TrimEnd('/') + "/hold";
        return server;
    }

    /// <summary>Answers every held request, and every later one at once.</summary>
    public void Release() => _release.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.DisposeAsync();
    }
}
