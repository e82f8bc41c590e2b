using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Pipeline;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using OpenTelemetry;

namespace LlmWorkflow.Api.Infrastructure;

/// <summary>
/// The web server, with one thing first: before it listens, one submission (<c>POST /api/v1/workflow</c>, marked
/// <see cref="SubmissionRehearsal"/>) goes <see cref="Rehearsals"/> times through the same request pipeline every request
/// takes — hosting, routing, authentication, the endpoint's body binding, <c>JobSubmitter</c>, the batch statements, the
/// 202 answer — and keeps nothing. Code that runs only once a request reaches it (generic instantiations without
/// ReadyToRun code, first-use stubs, the endpoint's async state machines, type loads) is then ready before the first
/// caller. Measured (bench/README.md, "S1: the server rehearses a submission"): the slowest of the first 32 concurrent
/// submissions to a fresh API took 36 ms (median of 16 runs) with only <see cref="ApiWarmup"/>, 26 ms with the rehearsal.
/// The rehearsal is not a request anyone made: it exports no span (OpenTelemetry's instrumentation is suppressed) and no
/// <c>http.server.request.duration</c> point, and counts in no job metric. Best effort and bounded: if it fails or takes
/// longer than <see cref="Limit"/>, the server starts anyway and the first requests pay as before.
/// </summary>
public sealed partial class RehearsingServer(IServer server, WorkflowCatalog catalog, ILogger<RehearsingServer> logger) : IServer
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many times the submission is rehearsed. The second time a service is resolved, dependency injection compiles
    /// its resolver (in the background), and the second time a constructor is invoked through reflection, the runtime
    /// emits a stub for it; the third rehearsal runs what they built (the JIT compiles it on that first run). With one
    /// rehearsal all of that happened in the first wave of requests (bench/README.md, "S1: the first wave rehearsed three
    /// times").
    /// </summary>
    private const int Rehearsals = 3;

    public IFeatureCollection Features => server.Features;

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        await RehearseAsync(application, cancellationToken);
        await server.StartAsync(application, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);

    public void Dispose() => server.Dispose();

    private async Task RehearseAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        if (catalog.All.FirstOrDefault() is not { } workflow)
        {
            return;
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        var started = Stopwatch.GetTimestamp();
        for (var rehearsal = 1; rehearsal <= Rehearsals; rehearsal++)
        {
            if (await RehearseOnceAsync(application, workflow.Name, limit.Token, cancellationToken) is { } refused)
            {
                LogNotRehearsed(refused.Exception, refused.StatusCode);
                return;
            }
        }

        LogRehearsed(Rehearsals, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        // The rehearsals ran after the warm-up's collection: what they left and built is promoted now, not by the first
        // collection under traffic, which fell in the first wave with the workstation GC (bench/README.md).
        StartupWarmup.CollectStartupGarbage();
    }

    /// <summary>One rehearsal; null when it was answered 202, else the status and the exception it ended with.</summary>
    private static async Task<(int StatusCode, Exception? Exception)?> RehearseOnceAsync<TContext>(IHttpApplication<TContext> application,
        string workflowName, CancellationToken limit, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var (features, response) = Submission(workflowName, limit);
        try
        {
            using (SuppressInstrumentationScope.Begin())
            {
                var context = application.CreateContext(features);
                // Hosting has just added its metrics feature: the rehearsal is no request to count.
                if (features.Get<IHttpMetricsTagsFeature>() is { } metrics)
                {
                    metrics.MetricsDisabled = true;
                }

                Exception? failure = null;
                try
                {
                    await application.ProcessRequestAsync(context);
                }
                catch (Exception ex)
                {
                    failure = ex;
                    throw;
                }
                finally
                {
                    application.DisposeContext(context, failure);
                }
            }

            return response.StatusCode == StatusCodes.Status202Accepted ? null : (response.StatusCode, null);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (response.StatusCode, ex);
        }
    }

    /// <summary>The features of a submission as a server would set them, with the rehearsal's mark.</summary>
    private static (FeatureCollection Features, HttpResponseFeature Response) Submission(string workflowName, CancellationToken aborted)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["workflow_name"] = workflowName, ["input_data"] = new JsonObject() });
        var headers = new HeaderDictionary { [HeaderNames.Host] = "localhost", [HeaderNames.ContentType] = "application/json" };
        headers.ContentLength = body.Length;
        var response = new HttpResponseFeature();
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Protocol = HttpProtocol.Http11,
            Method = HttpMethods.Post,
            Scheme = Uri.UriSchemeHttp,
            Path = "/api/v1/workflow",
            Headers = headers,
            Body = new MemoryStream(body, writable: false),
        });
        features.Set<IHttpRequestBodyDetectionFeature>(new HasBody());
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = IPAddress.Loopback, LocalIpAddress = IPAddress.Loopback });
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = aborted });
        features.Set<IHttpResponseFeature>(response);
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(Stream.Null));
        features.Set(new SubmissionRehearsal());
        return (features, response);
    }

    private sealed class HasBody : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rehearsed a submission through the request pipeline {Count} times in {Milliseconds:F0} ms")]
    private partial void LogRehearsed(int count, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The submission rehearsal did not complete (status {StatusCode}); the first requests will pay for what it skipped")]
    private partial void LogNotRehearsed(Exception? ex, int statusCode);
}

/// <summary>Registers <see cref="RehearsingServer"/> around the web server registered so far.</summary>
public static class RehearsingServerExtensions
{
    /// <summary>
    /// Wraps the last registered <see cref="IServer"/> (Kestrel, or a test's server) in a <see cref="RehearsingServer"/>.
    /// Call it after the server is registered: a server registered later replaces the wrapper.
    /// </summary>
    public static IServiceCollection RehearseSubmissionBeforeListening(this IServiceCollection services)
    {
        var inner = services.LastOrDefault(d => d.ServiceType == typeof(IServer) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("No web server is registered to rehearse a submission before.");
        services.AddSingleton<IServer>(sp => new RehearsingServer(
            (IServer)(inner.ImplementationInstance ?? inner.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!)),
            sp.GetRequiredService<WorkflowCatalog>(),
            sp.GetRequiredService<ILogger<RehearsingServer>>()));
        return services;
    }
}
