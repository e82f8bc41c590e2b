using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Trace.V1;
using LlmWorkflow.Engine;

namespace LlmWorkflow.Tests.Telemetry;

/// <summary>
/// An OTLP/HTTP receiver speaking protobuf, as the Aspire dashboard and collectors do: it decodes each export with
/// classes protoc generated from the OTLP specification and keeps every span and metric with the exporting service,
/// and for every signal (traces, metrics, logs) the resources that sent it (<see cref="Senders"/>).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<ReceivedMetric> _metrics = new();
    private readonly ConcurrentDictionary<(string Signal, string Sender), int> _senders = new();
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The endpoint to give as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public IReadOnlyList<ReceivedMetric> Metrics => [.. _metrics];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", receiver.ReceiveTracesAsync);
        app.MapPost("/v1/metrics", receiver.ReceiveMetricsAsync);
        app.MapPost("/v1/logs", receiver.ReceiveLogsAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Endpoint = new Uri(address.TrimEnd('/'));
        return receiver;
    }

    private async Task<IResult> ReceiveTracesAsync(HttpRequest request)
    {
        var export = ExportTraceServiceRequest.Parser.ParseFrom(await ReadProtobufAsync(request));
        foreach (var resource in export.ResourceSpans)
        {
            var service = ServiceName(resource.Resource.Attributes);
            Count("traces", resource.Resource.Attributes);
            foreach (var scope in resource.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    _spans.Enqueue(new ReceivedSpan(service, scope.Scope?.Name ?? "", span));
                }
            }
        }

        return Results.Bytes(new ExportTraceServiceResponse().ToByteArray(), "application/x-protobuf");
    }

    private async Task<IResult> ReceiveMetricsAsync(HttpRequest request)
    {
        var export = ExportMetricsServiceRequest.Parser.ParseFrom(await ReadProtobufAsync(request));
        foreach (var resource in export.ResourceMetrics)
        {
            var service = ServiceName(resource.Resource.Attributes);
            Count("metrics", resource.Resource.Attributes);
            foreach (var scope in resource.ScopeMetrics)
            {
                foreach (var metric in scope.Metrics)
                {
                    _metrics.Enqueue(new ReceivedMetric(service, scope.Scope?.Name ?? "", metric, DateTimeOffset.UtcNow));
                }
            }
        }

        return Results.Bytes(new ExportMetricsServiceResponse().ToByteArray(), "application/x-protobuf");
    }

    // ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1 }, ResourceLogs { Resource resource = 1 }: only
    // the resource is read, with the common Resource type (the logs protos are not compiled here).
    private async Task<IResult> ReceiveLogsAsync(HttpRequest request)
    {
        foreach (var resourceLogs in LengthDelimitedFields(await ReadProtobufAsync(request), 1))
        {
            foreach (var resource in LengthDelimitedFields(resourceLogs, 1))
            {
                Count("logs", OpenTelemetry.Proto.Resource.V1.Resource.Parser.ParseFrom(resource).Attributes);
            }
        }

        return Results.Bytes([], "application/x-protobuf");
    }

    /// <summary>
    /// The resources that sent <paramref name="signal"/> (traces, metrics, logs), each as
    /// <c>service.name-service.instance.id</c> (the name of an Aspire replica), with how many exports each sent.
    /// </summary>
    public IReadOnlyDictionary<string, int> Senders(string signal) =>
        _senders.Where(s => s.Key.Signal == signal).ToDictionary(s => s.Key.Sender, s => s.Value);

    private void Count(string signal, IEnumerable<KeyValue> attributes)
    {
        var list = attributes.ToList();
        var instance = list.FirstOrDefault(a => a.Key == "service.instance.id")?.Value.StringValue ?? "";
        _senders.AddOrUpdate((signal, $"{ServiceName(list)}-{instance}"), 1, (_, n) => n + 1);
    }

    private static List<byte[]> LengthDelimitedFields(byte[] message, int field)
    {
        var found = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static async Task<byte[]> ReadProtobufAsync(HttpRequest request)
    {
        if (request.ContentType != "application/x-protobuf")
        {
            throw new BadHttpRequestException($"Expected application/x-protobuf, got {request.ContentType}.");
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        return body.ToArray();
    }

    private static string ServiceName(IEnumerable<KeyValue> attributes) =>
        attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}

/// <summary>A decoded span and who exported it.</summary>
public sealed record ReceivedSpan(string Service, string Scope, Span Span)
{
    public string Name => Span.Name;

    public string TraceId => Span.TraceId.ToBase64();

    public string SpanId => Span.SpanId.ToBase64();

    public string ParentSpanId => Span.ParentSpanId.ToBase64();

    public bool IsRoot => Span.ParentSpanId.IsEmpty;

    public AnyValue? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value;

    public override string ToString() => $"{Service} {Scope} '{Name}' ({Span.Kind})";
}

/// <summary>A decoded metric, who exported it and when it arrived.</summary>
public sealed record ReceivedMetric(string Service, string Scope, Metric Metric, DateTimeOffset ReceivedAt)
{
    public string Name => Metric.Name;
}
