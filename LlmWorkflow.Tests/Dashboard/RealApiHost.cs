using System.Net;
using LlmWorkflow.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LlmWorkflow.Tests.Dashboard;

/// <summary>
/// The real API on Kestrel at 127.0.0.1 on a free port (a browser cannot reach TestServer), built exactly like
/// <see cref="ApiFactory"/> through <c>WebApplicationFactory.UseKestrel</c>.
/// </summary>
public sealed class RealApiHost : IAsyncDisposable
{
    private readonly ApiFactory _factory;

    private RealApiHost(ApiFactory factory, Uri baseAddress)
    {
        _factory = factory;
        BaseAddress = baseAddress;
    }

    /// <summary>Where the API listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    public static RealApiHost Start(IReadOnlyDictionary<string, string?> settings)
    {
        var factory = new ApiFactory(settings);
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel reported no listening address.");
        return new RealApiHost(factory, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>A plain HTTP client to the real port with the admin key (or the caller key).</summary>
    public HttpClient CreateClient(bool admin = true)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Add("X-API-Key", admin ? TestEnvironment.AdminKey : TestEnvironment.CallerKey);
        return client;
    }

    public ValueTask DisposeAsync() => _factory.DisposeAsync();
}
