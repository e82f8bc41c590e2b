using System.Diagnostics;
using System.Net;
using LlmWorkflow.ServiceDefaults.Resilience;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace LlmWorkflow.Tests.Hosting;

public sealed class ResilienceHandlerTests
{
    [Fact]
    public async Task RetriesServerErrorsUntilTheServerRecovers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, _ => { });

        using var response = await Client(services).GetAsync(new Uri("/flaky", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, server.Hits("/flaky"));
    }

    [Fact]
    public async Task WaitsAsLongAsRetryAfterSays()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, _ => { });
        var clock = Stopwatch.StartNew();

        using var response = await Client(services).GetAsync(new Uri("/throttled", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.Hits("/throttled"));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"retried after {clock.Elapsed}");
    }

    [Fact]
    public async Task HandsBackRetryAfterLongerThanAllowed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, o => o.MaxRetryAfter = TimeSpan.FromMilliseconds(500));

        using var response = await Client(services).GetAsync(new Uri("/throttled", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(1, server.Hits("/throttled"));
    }

    [Fact]
    public async Task DoesNotRetryClientErrors()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, _ => { });

        using var response = await Client(services).GetAsync(new Uri("/bad", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, server.Hits("/bad"));
    }

    [Fact]
    public async Task RetriesPostOnlyWhenAllowed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, _ => { });
        await using var lenientServer = await ScriptedHttpServer.StartAsync(ct);
        using var lenientServices = ClientServices(lenientServer, o => o.RetryNonIdempotentRequests = true);

        using var once = await Client(services).PostAsync(new Uri("/flaky", UriKind.Relative), new StringContent("{}"), ct);
        using var retried = await Client(lenientServices).PostAsync(new Uri("/flaky", UriKind.Relative), new StringContent("{}"), ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, once.StatusCode);
        Assert.Equal(1, server.Hits("/flaky"));
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(3, lenientServer.Hits("/flaky"));
    }

    [Fact]
    public async Task RetriesAnAttemptThatTimesOut()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300));

        using var response = await Client(services).GetAsync(new Uri("/slow", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.Hits("/slow"));
    }

    [Fact]
    public async Task OpenCircuitRejectsCallsWithoutReachingTheServer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        using var services = ClientServices(server, o =>
        {
            o.CircuitMinimumThroughput = 2;
            o.CircuitFailureRatio = 0.5;
            o.CircuitBreakDuration = TimeSpan.FromMinutes(1);
        });

        // Two failed attempts open the circuit; the retry after them is rejected.
        await Assert.ThrowsAsync<BrokenCircuitException>(() => Client(services).GetAsync(new Uri("/down", UriKind.Relative), ct));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => Client(services).GetAsync(new Uri("/down", UriKind.Relative), ct));

        Assert.Equal(2, server.Hits("/down"));
    }

    [Fact]
    public async Task ServiceDefaultsMakeEveryClientResilientUnlessItOptsOut()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ScriptedHttpServer.StartAsync(ct);
        await using var optedOutServer = await ScriptedHttpServer.StartAsync(ct);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["HttpResilience:RetryBaseDelay"] = "00:00:00.010",
        });
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = server.BaseAddress);
        // Named in full: Aspire.Hosting.Testing brings Microsoft.Extensions.Http.Resilience's method of the same name.
        HttpResilienceExtensions.RemoveAllResilienceHandlers(builder.Services.AddHttpClient("webhooks", c => c.BaseAddress = optedOutServer.BaseAddress));
        using var host = builder.Build();
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();

        using var resilient = await factory.CreateClient("catalog").GetAsync(new Uri("/flaky", UriKind.Relative), ct);
        using var plain = await factory.CreateClient("webhooks").GetAsync(new Uri("/flaky", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.OK, resilient.StatusCode);
        Assert.Equal(3, server.Hits("/flaky"));
        Assert.Equal(
            TimeSpan.FromMilliseconds(10),
            host.Services.GetRequiredService<IOptionsMonitor<HttpResilienceOptions>>().Get("catalog").RetryBaseDelay);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, plain.StatusCode);
        Assert.Equal(1, optedOutServer.Hits("/flaky"));
    }

    private static ServiceProvider ClientServices(ScriptedHttpServer server, Action<HttpResilienceOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddHttpClient("fake", c => c.BaseAddress = server.BaseAddress)
            .AddStandardResilience(o =>
            {
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
                configure(o);
            });
        return services.BuildServiceProvider();
    }

    private static HttpClient Client(ServiceProvider services) =>
        services.GetRequiredService<IHttpClientFactory>().CreateClient("fake");
}
