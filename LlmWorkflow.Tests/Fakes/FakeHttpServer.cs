using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmWorkflow.Tests.Fakes;

/// <summary>
/// An in-process Kestrel server on 127.0.0.1 with a random port: records every request, counts calls, answers with
/// scripted <see cref="FakeResponse"/>s first and the subclass's default behaviour otherwise, and reports requests
/// the client aborted. Subclasses add the API shape (OpenAI, Anthropic, WeatherAPI, Places).
/// </summary>
public abstract class FakeHttpServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<FakeResponse> _scripted = new();
    private readonly TaskCompletionSource<RecordedRequest> _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private int _callCount;

    /// <summary>Root URL, e.g. <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Requests in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public int CallCount => Volatile.Read(ref _callCount);

    /// <summary>Latency added to every answer.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>
    /// Every answer waits for this task after the request is counted (e.g. until the test has stopped a dependency);
    /// completed by default.
    /// </summary>
    public Task AnswerGate { get; set; } = Task.CompletedTask;

    /// <summary>Completes with the first request whose connection the client closed before the answer ended.</summary>
    public Task<RecordedRequest> RequestAborted => _aborted.Task;

    /// <summary>
    /// An outage: while set, every request is answered with this status and this API's error body (before anything
    /// scripted); null (the default) answers normally.
    /// </summary>
    public int? OutageStatus { get; set; }

    /// <summary>Answers the next request with <paramref name="response"/> (queued, first in first out).</summary>
    public void Enqueue(FakeResponse response) => _scripted.Enqueue(response);

    /// <summary>Answers the next request with this API's error shape.</summary>
    public void EnqueueError(int statusCode, string message, TimeSpan? retryAfter = null)
    {
        var response = new FakeResponse(statusCode, ErrorBody(statusCode, message));
        Enqueue(retryAfter is { } wait ? response.WithRetryAfter(wait) : response);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>The body this API sends with an error status.</summary>
    protected abstract string ErrorBody(int statusCode, string message);

    /// <summary>The default answer when nothing is scripted.</summary>
    protected abstract Task HandleAsync(HttpContext context, RecordedRequest request);

    /// <param name="certificate">Serve https with it, HTTP/2 and HTTP/1.1 agreed in the handshake; plain http when null.</param>
    protected async Task StartServerAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(certificate);
            }
        }));
        _app = builder.Build();
        _app.Run(ServeAsync);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.TrimEnd('/') + "/");
    }

    protected static async Task WriteJsonAsync(HttpContext context, string json, int statusCode = 200)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted);
    }

    private async Task ServeAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var request = new RecordedRequest(
            context.Request.Method,
            context.Request.Path.Value ?? "/",
            context.Request.QueryString.Value ?? string.Empty,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body,
            DateTimeOffset.UtcNow,
            Stopwatch.GetTimestamp(),
            context.Request.Protocol,
            context.Connection.Id);
        _requests.Enqueue(request);
        Interlocked.Increment(ref _callCount);
        using var abortRegistration = context.RequestAborted.Register(() => _aborted.TrySetResult(request));
        try
        {
            await AnswerGate.WaitAsync(context.RequestAborted);
            if (Latency > TimeSpan.Zero)
            {
                await Task.Delay(Latency, context.RequestAborted);
            }

            if (OutageStatus is { } outage)
            {
                await WriteJsonAsync(context, ErrorBody(outage, "The fake provider is down (a test's outage)."), outage);
            }
            else if (_scripted.TryDequeue(out var scripted))
            {
                await WriteScriptedAsync(context, scripted);
            }
            else
            {
                await HandleAsync(context, request);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; RequestAborted has been signalled.
        }
    }

    private static async Task WriteScriptedAsync(HttpContext context, FakeResponse response)
    {
        if (response.Hang)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }

        if (response.Delay > TimeSpan.Zero)
        {
            await Task.Delay(response.Delay, context.RequestAborted);
        }

        context.Response.StatusCode = response.StatusCode;
        context.Response.ContentType = response.ContentType;
        foreach (var (name, value) in response.Headers)
        {
            context.Response.Headers[name] = value;
        }

        if (response.Events is { } events)
        {
            await WriteEventsAsync(context, response, events);
            return;
        }

        if (response.BodyBytes is { } bytes)
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            return;
        }

        await context.Response.WriteAsync(response.Body, context.RequestAborted);
    }

    private static async Task WriteEventsAsync(HttpContext context, FakeResponse response, IReadOnlyList<string> events)
    {
        foreach (var data in events)
        {
            await context.Response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            if (response.EventDelay > TimeSpan.Zero)
            {
                await Task.Delay(response.EventDelay, context.RequestAborted);
            }
        }

        if (response.AbortAfterEvents)
        {
            context.Abort();
        }
        else if (response.HangAfterEvents)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
    }
}
