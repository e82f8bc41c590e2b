using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Deployment;

/// <summary>
/// What a container image holds is the publish output: it must carry the workflows folder, so the published API
/// started from an unrelated directory, with no Workflows:Root, serves the catalog and prices from its own copy (the
/// Worker's Release image: <see cref="PublishedWorkerTests"/>). The API takes the Worker's targets (its Release
/// properties are read from MSBuild's evaluation below), so it is published the quick way, framework-dependent and
/// without ahead-of-time code: a second composite would add minutes of compiling on two cores and prove nothing new,
/// and the Debug publish's per-assembly ReadyToRun compiled every package it carries (the Anthropic SDK's 11 MB of IL
/// among them) for 2.5 minutes of a CI run, only to check the workflows folder.
/// </summary>
[Collection(PublishesApiAndWorker.Name)]
[SystemTest]
public sealed class PublishedOutputTests(TestServers servers)
{
    [Fact]
    public async Task PublishedApiRunsFromAnUnrelatedDirectoryWithItsOwnWorkflowsFolder()
    {
        var ct = TestContext.Current.CancellationToken;
        using var published = await PublishedApp.PublishAsync("LlmWorkflow.Api");

        var environment = await TestEnvironment.CreateAsync(servers, nameof(PublishedOutputTests));
        var port = PortAllocator.GetFreePort();
        var start = new ProcessStartInfo(Path.Combine(published.Folder, "LlmWorkflow.Api"))
        {
            WorkingDirectory = published.Elsewhere,
        };
        foreach (var (key, value) in environment.Settings())
        {
            if (key != "Workflows:Root")
            {
                start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
            }
        }

        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        await using var api = CapturedProcess.Start(start);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Add("X-API-Key", TestEnvironment.CallerKey);
        var workflows = await WaitForJsonAsync(client, "/api/v1/workflows", api, ct);
        Assert.Contains("hello_transform", workflows.ToJsonString(), StringComparison.Ordinal);

        // The dry run prices the workflow's models from the published pricing.json.
        var input = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Workflows, "examples", "support_triage.json"), ct));
        using var validate = await client.PostAsJsonAsync("/api/v1/workflow/validate", new JsonObject { ["workflow_name"] = "support_triage", ["input_data"] = input }, ct);
        var plan = await validate.Content.ReadFromJsonAsync<JsonObject>(ct);
        Assert.True(validate.IsSuccessStatusCode, plan?.ToJsonString());
        Assert.Empty(plan!["unpriced_models"]!.AsArray());
    }

    // A Release publish (an image) is self-contained; a build that is not published is framework-dependent. Neither
    // turns tiered compilation off: ReadyToRun code is where a process starts, the re-compiled hot methods where it
    // runs. Read from MSBuild's evaluation: the SDK writes TieredCompilation into the runtimeconfig when it is set.
    [Theory]
    [InlineData("LlmWorkflow.Worker", "Release", "true", "true")]
    [InlineData("LlmWorkflow.Worker", "Debug", "false", "false")]
    [InlineData("LlmWorkflow.Api", "Release", "true", "true")]
    [InlineData("LlmWorkflow.Api", "Debug", "false", "false")]
    public async Task OnlyAReleasePublishIsSelfContainedAndCompositeAndNoneTurnsTieringOff(string app, string configuration, string publishing, string composite)
    {
        var output = await ExternalCommand.RunAsync(
            "dotnet",
            ["msbuild", Path.Combine(RepositoryPaths.Root, app, app + ".csproj"),
                "-getProperty:TieredCompilation", "-getProperty:SelfContained", "-getProperty:PublishReadyToRun", "-getProperty:PublishReadyToRunComposite",
                $"-p:Configuration={configuration}", $"-p:_IsPublishing={publishing}"],
            TimeSpan.FromMinutes(2));

        var properties = JsonNode.Parse(output)!["Properties"]!;
        Assert.Equal("", (string?)properties["TieredCompilation"]);
        Assert.Equal(composite, (string?)properties["SelfContained"]);
        Assert.Equal(composite, (string?)properties["PublishReadyToRunComposite"]);
        Assert.Equal("true", (string?)properties["PublishReadyToRun"]);
    }

    /// <summary>A publish output and an unrelated directory to start it from; both are deleted on dispose.</summary>
    private sealed class PublishedApp : IDisposable
    {
        private PublishedApp(string folder, string elsewhere) => (Folder, Elsewhere) = (folder, elsewhere);

        /// <summary>The publish output.</summary>
        public string Folder { get; }

        /// <summary>An unrelated, empty directory to start it from.</summary>
        public string Elsewhere { get; }

        /// <summary>
        /// Publishes <paramref name="app"/> the quick way (framework-dependent, no ahead-of-time code, in the tests' build
        /// configuration; for linux-x64, whose packs came with the solution's restore) and checks the workflows folder.
        /// </summary>
        public static async Task<PublishedApp> PublishAsync(string app)
        {
            var published = new PublishedApp(
                Directory.CreateTempSubdirectory($"llmwf-publish-{app}-").FullName, Directory.CreateTempSubdirectory("llmwf-elsewhere-").FullName);
            try
            {
                await ExternalCommand.RunBuildAsync(
                    ["publish", Path.Combine(RepositoryPaths.Root, app, app + ".csproj"), "--no-restore", "-c", ExternalCommand.BuildConfiguration, "-o", published.Folder,
                        "-p:PublishReadyToRun=false"],
                    TimeSpan.FromMinutes(20));
                CheckWorkflowsFolder(published.Folder);
                return published;
            }
            catch
            {
                published.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Directory.Delete(Folder, recursive: true);
            Directory.Delete(Elsewhere, recursive: true);
        }
    }

    /// <summary>Every data file the services read, in the layout WorkflowsDirectory expects, is in the publish output.</summary>
    internal static void CheckWorkflowsFolder(string folder)
    {
        foreach (var file in new[] { "definitions/hello_transform.json", "pricing.json", "workflow.schema.json", "mock-responses/support_triage.json" })
        {
            Assert.True(File.Exists(Path.Combine(folder, "workflows", file)), $"workflows/{file} is missing from the publish output");
        }

        Assert.NotEmpty(Directory.GetFiles(Path.Combine(folder, "workflows", "prompts"), "*.md", SearchOption.AllDirectories));
    }

    /// <summary>A ReadyToRun image carries native code behind the CLI header's ManagedNativeHeader directory.</summary>
    internal static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new System.Reflection.PortableExecutable.PEReader(stream);
        return reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    private static async Task<JsonNode> WaitForJsonAsync(HttpClient client, string path, CapturedProcess api, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            Assert.False(api.Process.HasExited, "The published API exited:\n" + api.Tail());
            try
            {
                using var response = await client.GetAsync(path, ct);
                if (response.IsSuccessStatusCode)
                {
                    return (await response.Content.ReadFromJsonAsync<JsonNode>(ct))!;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < deadline, "The published API did not serve " + path + ":\n" + api.Tail());
            await Task.Delay(200, ct);
        }
    }
}
