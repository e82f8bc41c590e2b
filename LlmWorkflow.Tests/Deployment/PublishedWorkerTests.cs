using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.LocalServers;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// The Worker as its image ships it (<see cref="CompositeWorkerPublish"/>: Release, self-contained, its code one
/// composite ReadyToRun image of the app and the frameworks, tiered compilation on and tiered PGO off), started through
/// its apphost as the image's entrypoint starts it, from an unrelated directory with no Workflows:Root: it runs a job
/// from its own workflows folder. It runs after the parallel classes (<see cref="WaitsForTheCompositePublish"/>), by when
/// the publish that began with the run has finished.
/// </summary>
[SystemTest]
[Collection(WaitsForTheCompositePublish.Name)]
public sealed class PublishedWorkerTests(TestServers servers)
{
    [Fact]
    public async Task PublishedWorkerRunsAJobFromAnUnrelatedDirectoryWithItsOwnWorkflowsFolder()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = await CompositeWorkerPublish.OutputAsync();
        var elsewhere = Directory.CreateTempSubdirectory("llmwf-elsewhere-");
        try
        {
            await CheckCompositeAsync(folder, ct);
            PublishedOutputTests.CheckWorkflowsFolder(folder);

            // The database holds the current schema (TestEnvironment); the in-process API takes the submission and the
            // published worker runs the job.
            var environment = await TestEnvironment.CreateAsync(servers, nameof(PublishedWorkerTests));
            await using var api = new ApiFactory(environment.Settings());
            using var client = api.CreateAuthenticatedClient();
            var workerSettings = environment.Settings().Where(setting => setting.Key != "Workflows:Root").ToDictionary();
            await using var worker = await WorkerProcess.StartAsync(workerSettings, published: folder, workingDirectory: elsewhere.FullName);

            var submitted = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "hello_transform", input_data = new { name = "published" } }, ct);
            Assert.Equal(System.Net.HttpStatusCode.Accepted, submitted.StatusCode);
            var jobId = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
            var status = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", TimeSpan.FromSeconds(60), ct);
            Assert.True((string?)status["status"] == "completed", "the published worker did not complete the job: " + status + "\n" + worker.Output);
        }
        finally
        {
            elsewhere.Delete(recursive: true);
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>One composite image holds the native code of the app, its packages and the frameworks; tiering on, PGO off.</summary>
    private static async Task CheckCompositeAsync(string folder, CancellationToken ct)
    {
        const string app = "LlmWorkflow.Worker";
        Assert.True(PublishedOutputTests.IsReadyToRun(Path.Combine(folder, app + ".r2r.dll")), "the composite ReadyToRun image is missing");
        foreach (var assembly in new[] { app + ".dll", "LlmWorkflow.Engine.dll", "LlmWorkflow.Storage.dll", "Npgsql.dll", "System.Private.CoreLib.dll", "Anthropic.dll" })
        {
            Assert.True(PublishedOutputTests.IsReadyToRun(Path.Combine(folder, assembly)), $"{assembly} in the publish output is not part of the ReadyToRun composite");
        }

        var runtimeOptions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(folder, app + ".runtimeconfig.json"), ct))!["runtimeOptions"]!;
        Assert.NotNull(runtimeOptions["includedFrameworks"]);
        Assert.Null(runtimeOptions["configProperties"]!["System.Runtime.TieredCompilation"]);
        Assert.False((bool)runtimeOptions["configProperties"]!["System.Runtime.TieredPGO"]!);
    }
}
