using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Infrastructure;
using Npgsql;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// The deployment path end to end, without a Docker engine: the SDK builds both images on the offline base image
/// (<c>.ci/containers-setup.sh</c>) through a local registry, podman runs the API and two workers against real
/// PostgreSQL and Redis, the example workflows complete over HTTP, and a worker stopped with SIGTERM mid-job hands
/// the job to the other. Everything the test starts is removed.
/// </summary>
[Collection(PublishesApiAndWorker.Name)]
[SystemTest]
public sealed class ContainerDeploymentTests(TestServers servers, ITestOutputHelper output)
{
    private const string BaseImage = "localhost/dotnet/aspnet:10.0";
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task PublishedImagesRunTheSystemAndAWorkerStoppedMidJobHandsItOver()
    {
        var ct = TestContext.Current.CancellationToken;
        await RequireSetupAsync();
        var clock = Stopwatch.StartNew();
        var run = Guid.NewGuid().ToString("N")[..10];

        await using var registry = await LocalRegistry.StartAsync();
        // The offline aspnet:10.0 stand-in goes into the registry, where the SDK expects a base image to be.
        await ExternalCommand.RunAsync(
            "skopeo",
            ["copy", "--quiet", "--dest-tls-verify=false", $"containers-storage:{BaseImage}", $"docker://{registry.Address}/dotnet/aspnet:10.0"],
            TimeSpan.FromMinutes(3));
        Mark(clock, "base image pushed to the local registry");

        // One after the other: each builds its project for linux-x64, and both build the shared libraries.
        var apiImage = await PublishImageAsync("LlmWorkflow.Api", "llmworkflow-api", registry, run);
        var workerImage = await PublishImageAsync("LlmWorkflow.Worker", "llmworkflow-worker", registry, run);
        Mark(clock, "both images published by the SDK");

        var containers = new List<PodmanContainer>();
        try
        {
            foreach (var image in new[] { apiImage, workerImage })
            {
                await ExternalCommand.RunAsync("podman", ["pull", "--quiet", "--tls-verify=false", image], TimeSpan.FromMinutes(2));
            }

            Mark(clock, "images pulled by podman");

            var environment = await TestEnvironment.CreateAsync(servers, nameof(ContainerDeploymentTests));
            var apiPort = PortAllocator.GetFreePort();
            const string callerKey = "container-caller-key";
            // No Workflows__Root: the images carry their own workflows folder.
            var shared = new Dictionary<string, string>
            {
                ["ConnectionStrings__postgres"] = environment.PostgresConnectionString,
                ["ConnectionStrings__redis"] = environment.RedisConnectionString,
                ["Queue__KeyPrefix"] = environment.KeyPrefix,
                ["Llm__Mock__LatencyMs"] = "3000",
                ["Llm__Mock__ServeAllModels"] = "true",
            };
            var api = await PodmanContainer.RunAsync($"llmwf-api-{run}", apiImage, run, new Dictionary<string, string>(shared)
            {
                ["ASPNETCORE_HTTP_PORTS"] = apiPort.ToString(CultureInfo.InvariantCulture),
                ["LLM_MICROSERVICE_API_KEY"] = callerKey,
            });
            containers.Add(api);

            // Two workers; a short drain, so the stopped one gives its job up instead of finishing it while draining.
            var workers = new Dictionary<string, PodmanContainer>();
            foreach (var id in new[] { "worker-a", "worker-b" })
            {
                workers[id] = await PodmanContainer.RunAsync($"llmwf-{id}-{run}", workerImage, run, new Dictionary<string, string>(shared)
                {
                    ["Worker__Id"] = id,
                    ["Worker__DrainTimeout"] = "00:00:01",
                });
                containers.Add(workers[id]);
            }

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort.ToString(CultureInfo.InvariantCulture)}") };
            client.DefaultRequestHeaders.Add("X-API-Key", callerKey);
            await WaitUntilAsync(async () => await GetStatusAsync(client, "/health", ct) == 200, api, "the API to answer /health");
            foreach (var worker in workers.Values)
            {
                await WaitUntilAsync(async () => (await worker.LogsAsync()).Contains("Worker started", StringComparison.Ordinal), worker, $"{worker.Name} to start");
            }

            Mark(clock, "API and two workers running");

            // The example workflows that run offline complete, submitted together (emergency_contacts needs Google
            // Places). The mock answers every model id, so mission_generation's OpenRouter steps run without keys.
            string[] examples = ["hello_transform", "support_triage", "trip_briefing", "mission_generation"];
            var submitted = new List<(string Workflow, string Id)>();
            foreach (var workflow in examples)
            {
                submitted.Add((workflow, await SubmitAsync(client, workflow, ct)));
            }

            foreach (var (workflow, id) in submitted)
            {
                var status = await PollUntilTerminalAsync(client, id, ct);
                Assert.True((string?)status["status"] == "completed", $"{workflow}: {status.ToJsonString()}");
            }

            Mark(clock, "example workflows completed");

            // A slow job starts; the worker holding its lease (PostgreSQL says which) gets SIGTERM; the other finishes it.
            var jobId = await SubmitAsync(client, "support_triage", ct);
            string? owner = null;
            await WaitUntilAsync(async () => (owner = await LeaseOwnerAsync(environment.PostgresConnectionString, jobId)) is not null, api, "a worker to lease the job");
            var stopped = workers[owner!];
            var survivor = workers.Single(w => w.Key != owner).Value;
            Assert.Equal("processing", (string?)(await GetJobAsync(client, jobId, ct))["status"]);

            await stopped.TerminateAsync();
            Assert.Equal(0, await stopped.WaitForExitAsync());
            Mark(clock, $"{owner} stopped by SIGTERM mid-job");

            var final = await PollUntilTerminalAsync(client, jobId, ct);
            Assert.True((string?)final["status"] == "completed", final.ToJsonString());
            var stoppedLogs = await stopped.LogsAsync();
            Assert.Contains($"Job {jobId} released for another worker", stoppedLogs, StringComparison.Ordinal);
            Assert.DoesNotContain($"Job {jobId} (support_triage) finished", stoppedLogs, StringComparison.Ordinal);
            Assert.Contains($"Job {jobId} (support_triage) finished: completed", await survivor.LogsAsync(), StringComparison.Ordinal);
            Mark(clock, "the job finished on the other worker");
        }
        finally
        {
            foreach (var container in containers)
            {
                await container.DisposeAsync();
            }

            foreach (var image in new[] { apiImage, workerImage })
            {
                await ExternalCommand.RunAsync("podman", ["rmi", "--force", image], TimeSpan.FromSeconds(60), allowFailure: true);
            }
        }

        var left = await ExternalCommand.RunAsync("podman", ["ps", "--all", "--quiet", "--filter", $"label=llmwf-test-run={run}"], TimeSpan.FromSeconds(30));
        Assert.Equal("", left.Trim());
        Mark(clock, "containers and images removed");
    }

    private static async Task RequireSetupAsync()
    {
        foreach (var tool in new[] { "podman", "skopeo", "docker-registry", "runc" })
        {
            Assert.True(
                Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(dir => File.Exists(Path.Combine(dir, tool))),
                $"{tool} is not installed; run .ci/containers-setup.sh first.");
        }

        var images = await ExternalCommand.RunAsync("podman", ["images", "--quiet", BaseImage], TimeSpan.FromSeconds(30));
        Assert.True(images.Trim().Length > 0, $"The base image {BaseImage} is missing; run .ci/containers-setup.sh first.");
    }

    private async Task<string> PublishImageAsync(string project, string repository, LocalRegistry registry, string tag)
    {
        await ExternalCommand.RunBuildAsync(
            [
                "publish", Path.Combine(RepositoryPaths.Root, project, project + ".csproj"), "--no-restore", "-c", ExternalCommand.BuildConfiguration,
                "-t:PublishContainer", $"-p:ContainerBaseImage={registry.Address}/dotnet/aspnet:10.0", $"-p:ContainerRegistry={registry.Address}",
                $"-p:ContainerImageTags={tag}",
                // Ahead-of-time code is what a Release image carries and PublishedOutputTests proves; this Debug image
                // proves the SDK's image, the base image and the fleet, and compiling its packages ahead of time would
                // add about a minute of CPU per image. (Without it the SDK no longer infers the image's runtime: given.)
                "-p:PublishReadyToRun=false", "-r", "linux-x64",
            ],
            TimeSpan.FromMinutes(8),
            environment: new Dictionary<string, string> { ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = registry.Address });
        var image = $"{registry.Address}/{repository}:{tag}";
        output.WriteLine($"published {image}");
        return image;
    }

    private static async Task<string?> LeaseOwnerAsync(string postgres, string jobId)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT lease_owner FROM llm_workflow_jobs WHERE id = @id AND status = 'processing'", connection);
        command.Parameters.AddWithValue("id", Guid.Parse(jobId));
        return await command.ExecuteScalarAsync() as string;
    }

    private static async Task<string> SubmitAsync(HttpClient client, string workflow, CancellationToken ct)
    {
        var input = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Workflows, "examples", workflow + ".json"), ct));
        using var response = await client.PostAsJsonAsync("/api/v1/workflow", new JsonObject { ["workflow_name"] = workflow, ["input_data"] = input }, ct);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, body?.ToJsonString());
        return (string)body!["job_id"]!;
    }

    private static async Task<JsonObject> GetJobAsync(HttpClient client, string jobId, CancellationToken ct) =>
        (await client.GetFromJsonAsync<JsonObject>($"/api/v1/jobs/{jobId}", ct))!;

    private static async Task<JsonObject> PollUntilTerminalAsync(HttpClient client, string jobId, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + JobTimeout;
        while (true)
        {
            var job = await GetJobAsync(client, jobId, ct);
            if ((string?)job["status"] is "completed" or "failed" or "cancelled" || DateTime.UtcNow > deadline)
            {
                return job;
            }

            await Task.Delay(250, ct);
        }
    }

    private static async Task<int> GetStatusAsync(HttpClient client, string path, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetAsync(path, ct);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, PodmanContainer container, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for {what}. Logs of {container.Name}:\n{await container.LogsAsync()}");
            }

            await Task.Delay(200);
        }
    }

    private void Mark(Stopwatch clock, string step) =>
        output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {step}");
}
