using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using LlmWorkflow.Tests.External;
using OpenTelemetry.Trace;

namespace LlmWorkflow.Tests.Telemetry;

[IntegrationTest]
public sealed class ServiceDefaultsTests
{
    [Fact]
    public async Task AliveAnswers200AndHealthReportsEachCheckAsJson()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var app = await StartAppAsync(new CollectingActivityExporter(), ct);
        using var client = new HttpClient { BaseAddress = app.BaseAddress };

        using var alive = await client.GetAsync(new Uri("/alive", UriKind.Relative), ct);
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative), ct);

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        using var report = JsonDocument.Parse(await health.Content.ReadAsStringAsync(ct));
        // A degraded dependency makes the whole report degraded, still served with 200.
        Assert.Equal("Degraded", report.RootElement.GetProperty("status").GetString());
        var self = report.RootElement.GetProperty("checks").GetProperty("self");
        Assert.Equal("Healthy", self.GetProperty("status").GetString());
        Assert.Equal("live", self.GetProperty("tags")[0].GetString());
        Assert.True(self.GetProperty("durationMs").GetDouble() >= 0);
        var failing = report.RootElement.GetProperty("checks").GetProperty("failing");
        Assert.Equal("Degraded", failing.GetProperty("status").GetString());
        Assert.Equal("queue is slow", failing.GetProperty("description").GetString());
    }

    [Fact]
    public async Task RequestActivitiesCarryOpenTelemetryTagsAndHealthProbesAreNotExported()
    {
        var ct = TestContext.Current.CancellationToken;
        var exporter = new CollectingActivityExporter();
        await using var app = await StartAppAsync(exporter, ct);
        using var client = new HttpClient { BaseAddress = app.BaseAddress };
        var port = app.BaseAddress.Port;

        (await client.GetAsync(new Uri("/health", UriKind.Relative), ct)).Dispose();
        (await client.GetAsync(new Uri("/alive", UriKind.Relative), ct)).Dispose();
        (await client.GetAsync(new Uri("/hello", UriKind.Relative), ct)).Dispose();

        var request = await exporter.WaitForAsync(
            a => a.Source.Name == "Microsoft.AspNetCore" && Equals(a.GetTagItem("server.port"), port), ct);
        Assert.Equal("GET", request.GetTagItem("http.request.method"));
        Assert.Equal("/hello", request.GetTagItem("url.path"));
        Assert.Equal(200, request.GetTagItem("http.response.status_code"));
        Assert.Equal("/hello", request.GetTagItem("http.route"));
        Assert.Equal("GET /hello", request.DisplayName);
        Assert.Equal(ActivityKind.Server, request.Kind);
        // Health probes are sent before /hello, so they would have been exported by now if they were sampled.
        Assert.DoesNotContain(exporter.Exported, a =>
            a.Source.Name == "Microsoft.AspNetCore" && Equals(a.GetTagItem("server.port"), port) && (string?)a.GetTagItem("url.path") != "/hello");
    }

    [Fact]
    public async Task OwnActivitySourceIsExported()
    {
        var ct = TestContext.Current.CancellationToken;
        var exporter = new CollectingActivityExporter();
        await using var app = await StartAppAsync(exporter, ct);
        using var source = new ActivitySource("LlmWorkflow");
        var marker = Guid.NewGuid().ToString();

        using (source.StartActivity("run workflow")?.SetTag("test.marker", marker))
        {
        }

        var exported = await exporter.WaitForAsync(a => (string?)a.GetTagItem("test.marker") == marker, ct);
        Assert.Equal("run workflow", exported.DisplayName);
    }

    [Fact]
    public async Task CapturedPromptsAndAnswersAreRedactedAsLogsAreBeforeExport()
    {
        var ct = TestContext.Current.CancellationToken;
        var exporter = new CollectingActivityExporter();
        await using var app = await StartAppAsync(exporter, ct);
        using var source = new ActivitySource("LlmWorkflow");
        var marker = Guid.NewGuid().ToString();

        using (source.StartActivity("chat echo")?.SetTag("test.marker", marker)
                   .SetTag("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Mail ada@example.org, see https://x.test/?api_key=topsecret99"}]}]""")
                   .SetTag("gen_ai.output.messages", """[{"role":"assistant","parts":[{"type":"text","content":"Done for ada@example.org"}]}]"""))
        {
        }

        var exported = await exporter.WaitForAsync(a => (string?)a.GetTagItem("test.marker") == marker, ct);
        var input = (string)exported.GetTagItem("gen_ai.input.messages")!;
        var output = (string)exported.GetTagItem("gen_ai.output.messages")!;
        Assert.DoesNotContain("ada@example.org", input + output, StringComparison.Ordinal);
        Assert.DoesNotContain("topsecret99", input, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"user\"", input, StringComparison.Ordinal);
    }

    [Fact]
    public void ConsoleLogsAreJsonWithUtcTimestampsUnlessAFormatterIsChosen()
    {
        var defaults = Host.CreateApplicationBuilder();
        defaults.AddServiceDefaults();
        using var defaultHost = defaults.Build();
        var chosen = Host.CreateApplicationBuilder();
        chosen.Configuration["Logging:Console:FormatterName"] = "simple";
        chosen.AddServiceDefaults();
        using var chosenHost = chosen.Build();

        Assert.Equal("json", defaultHost.Services.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName);
        var json = defaultHost.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue;
        Assert.True(json.UseUtcTimestamp);
        Assert.True(json.IncludeScopes);
        Assert.Equal("simple", chosenHost.Services.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName);
    }

    [Fact]
    public void TelemetryIsAttributedToTheConfiguredServiceName()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["OTEL_SERVICE_NAME"] = "worker-7";
        builder.AddServiceDefaults();
        using var host = builder.Build();

        var resource = host.Services.GetRequiredService<TracerProvider>().GetResource().Attributes.ToDictionary();

        Assert.Equal("worker-7", resource["service.name"]);
        Assert.True(Guid.TryParse((string)resource["service.instance.id"], out _));
        Assert.Equal(host.Services.GetRequiredService<IHostEnvironment>().EnvironmentName, resource["deployment.environment.name"]);
    }

    [Fact]
    public void TelemetryCarriesTheReplicaInstanceIdAspireGives()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["OTEL_SERVICE_NAME"] = "worker";
        builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=bxzkgxrr,service.namespace=llm%20workflow";
        builder.AddServiceDefaults();
        using var host = builder.Build();

        var resource = host.Services.GetRequiredService<TracerProvider>().GetResource().Attributes.ToDictionary();

        Assert.Equal("worker", resource["service.name"]);
        Assert.Equal("bxzkgxrr", resource["service.instance.id"]);
    }

    private static Task<LoopbackWebApp> StartAppAsync(CollectingActivityExporter exporter, CancellationToken ct) =>
        LoopbackWebApp.StartAsync(
            builder =>
            {
                builder.AddServiceDefaults();
                builder.Services.AddHealthChecks().AddCheck(
                    "failing", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Degraded("queue is slow"), ["ready"]);
                builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(new SimpleActivityExportProcessor(exporter)));
            },
            app =>
            {
                app.MapDefaultEndpoints();
                app.MapGet("/hello", () => Results.Ok("hi"));
            },
            ct);
}
