using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Telemetry;
using PortAllocator = LlmWorkflow.Tests.LocalServers.PortAllocator;

namespace LlmWorkflow.Tests.Hosting;

/// <summary>
/// Telemetry tied to the resources of the Aspire dashboard: the real AppHost (api and two worker replicas, postgres
/// and redis from the local binaries) with the resources' OTLP export pointed at an OTLP/HTTP receiver in this test
/// (<see cref="OtlpReceiver"/>)
/// instead of the dashboard. Every trace, log and metric export of the api and of each worker replica must carry
/// that resource's name (<c>service.name</c>) and the replica's instance id (<c>service.instance.id</c>), so that
/// name-id is a resource the AppHost runs (<c>worker-bxzkgxrr</c>) — not a random id no dashboard page knows.
/// </summary>
[SystemTest]
public sealed class ResourceTelemetryIdentityTests
{
    private static readonly string[] Signals = ["traces", "logs", "metrics"];

    [Fact]
    public async Task EveryTraceLogAndMetricOfTheApiAndEachWorkerReplicaCarriesItsResourceNameAndInstanceId()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync();
        using var data = new TemporaryDirectory();
        var apiPort = PortAllocator.GetFreePort();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.LlmWorkflow_AppHost>(
            ["--workers", "2", "--api-port", apiPort.ToString(CultureInfo.InvariantCulture), "--data", data.Path, "--AppHost:Infrastructure=local"],
            (options, _) => options.DisableDashboard = false,
            ct);
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            // After Aspire's own OTLP settings (which keep OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES): only where
            // the data goes changes, and how often it is sent.
            project.Annotations.Add(new EnvironmentCallbackAnnotation(environment =>
            {
                environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString().TrimEnd('/');
                environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
                environment.Remove("OTEL_EXPORTER_OTLP_HEADERS");
                environment["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
                environment["OTEL_BSP_SCHEDULE_DELAY"] = "500";
                environment["OTEL_BLRP_SCHEDULE_DELAY"] = "500";
            }));
        }

        await using var app = await builder.BuildAsync(ct);
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(ct);
        startup.CancelAfter(TimeSpan.FromMinutes(4));
        await app.StartAsync(startup.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", startup.Token);
        var replicas = await RunningReplicasAsync(app, startup.Token);
        Assert.Equal(2, replicas.Count(id => id.StartsWith("worker-", StringComparison.Ordinal)));

        // Jobs until each worker replica has run one (its spans), each through the api (its spans).
        using var api = new HttpClient { BaseAddress = new Uri($"http://localhost:{apiPort}") };
        api.DefaultRequestHeaders.Add("X-API-Key", "dev-api-key");
        var workersThatRan = new HashSet<string>();
        var clock = Stopwatch.StartNew();
        while (workersThatRan.Count < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"Only [{string.Join(", ", workersThatRan)}] ran jobs within 2 minutes.");
            var jobs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RunJobAsync(api, ct)));
            workersThatRan.UnionWith(jobs.Where(worker => worker is not null)!);
        }

        var expected = replicas.Where(id => id.StartsWith("api", StringComparison.Ordinal) || id.StartsWith("worker-", StringComparison.Ordinal)).ToHashSet();
        // The worker id a job records is its replica's name in the dashboard too.
        Assert.Subset(expected, workersThatRan);
        var waited = Stopwatch.StartNew();
        while (!Signals.All(signal => expected.IsSubsetOf(receiver.Senders(signal).Keys)))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60),
                $"Not every resource exported every signal within 60 s; expected [{string.Join(", ", expected)}], got {Describe(receiver)}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
        }

        foreach (var signal in Signals)
        {
            var strangers = receiver.Senders(signal).Keys.Except(expected).ToList();
            Assert.True(strangers.Count == 0, $"{signal} came from [{string.Join(", ", strangers)}], which are no resources of the AppHost ([{string.Join(", ", replicas)}])");
        }

        await app.StopAsync(ct);
    }

    /// <summary>The dashboard names of the running project replicas (<c>api-…</c>, <c>worker-…</c>), once all three run.</summary>
    private static async Task<IReadOnlyList<string>> RunningReplicasAsync(DistributedApplication app, CancellationToken ct)
    {
        var running = new Dictionary<string, string>();
        await foreach (var change in app.ResourceNotifications.WatchAsync(ct))
        {
            if (change.Resource is ProjectResource)
            {
                if (change.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    running[change.ResourceId] = change.Resource.Name;
                }
                else
                {
                    running.Remove(change.ResourceId);
                }
            }

            if (running.Count == 3)
            {
                return [.. running.Keys];
            }
        }

        throw new OperationCanceledException(ct);
    }

    private static string Describe(OtlpReceiver receiver) =>
        string.Join("; ", Signals.Select(signal => $"{signal}: {string.Join(", ", receiver.Senders(signal).Select(s => $"{s.Key} ×{s.Value}"))}"));

    /// <summary>Runs one quick job; returns the worker that ran it.</summary>
    private static async Task<string?> RunJobAsync(HttpClient api, CancellationToken ct)
    {
        var response = await api.PostAsJsonAsync("/api/v1/workflow", new JsonObject
        {
            ["workflow_name"] = "hello_transform",
            ["input_data"] = new JsonObject { ["name"] = "Ada" },
        }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        var status = await JobPolling.WaitForTerminalAsync(api, (string)accepted!["status_url"]!, TimeSpan.FromSeconds(60), ct);
        Assert.Equal("completed", (string?)status["status"]);
        return (string?)status["worker_id"];
    }
}
