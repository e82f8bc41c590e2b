using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.External;

/// <summary>A real Kestrel app on 127.0.0.1 and a free port, for tests that need an HTTP server.</summary>
internal sealed class LoopbackWebApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackWebApp(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<LoopbackWebApp> StartAsync(
        Action<WebApplicationBuilder> configureBuilder, Action<WebApplication> configureApp, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        configureBuilder(builder);
        var app = builder.Build();
        configureApp(app);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new LoopbackWebApp(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
