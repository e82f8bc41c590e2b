using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmWorkflow.Storage.Jobs;
using LlmWorkflow.Tests.Fakes;
using LlmWorkflow.Tests.Infrastructure;
using LlmWorkflow.Tests.Webhooks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmWorkflow.Tests.Docs;

/// <summary>
/// docs/JOB_LIFECYCLE.md also says how many source files one typical job passes through, from its POST to its webhook:
/// a transform, an LLM call to a provider over HTTP, a transform, a signed webhook. The runtime says which of our
/// methods ran: the API and a worker run as processes built in Debug (no ahead-of-time code, so the JIT compiles every
/// method of ours the first time it runs) with the JIT's summary of what it compiled
/// (<c>DOTNET_JitDisasmSummary</c>). The files are those of the methods the job's entry points (<see
/// cref="JobPathFilesTests.Entries"/>) reach through methods that ran, read with <see cref="CodeReach"/>.
/// </summary>
[SystemTest]
public sealed partial class OneJobFilesTests(TestServers servers, ITestOutputHelper output)
{
    private const string WebhookSecret = "one-job-files-webhook-secret";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheDocumentStatesHowManyFilesOneJobPassesThrough()
    {
        var ran = await MethodsThatRanForOneJobAsync();
        var reach = CodeReach.Load(AppContext.BaseDirectory, JobPathFilesTests.Assemblies);
        var files = JobPathFilesTests.RepositoryFiles(reach.FilesReachedFrom(JobPathFilesTests.Entries, (type, method) => ran.Contains((type, method))));

        JobPathFilesTests.AssertDocumentStates(files, StatedCount(), "one job passes through", "one-job-files.txt", output);
    }

    /// <summary>
    /// Runs one job through an API and a worker started for it, stops both (SIGTERM: the JIT's log is written out as
    /// they exit), and returns every method of ours that either compiled, as (type, method) in Cecil's spelling.
    /// </summary>
    private async Task<HashSet<(string Type, string Method)>> MethodsThatRanForOneJobAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var llm = await FakeOpenAiServer.StartAsync();
        await using var hooks = await WebhookReceiver.StartAsync(WebhookSecret);
        var environment = await TestEnvironment.CreateAsync(servers, nameof(OneJobFilesTests));
        var logs = Directory.CreateTempSubdirectory("llmwf-jit-summary-");
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = Path.Combine(RepositoryPaths.Root, "LlmWorkflow.Tests", "Telemetry", "workflows"),
            ["Pricing:FilePath"] = Path.Combine(RepositoryPaths.Workflows, "pricing.json"),
            ["Llm:Providers:openai:BaseUrl"] = llm.ApiUrl.ToString(),
            ["Llm:Providers:openai:ApiKey"] = "sk-test",
            ["Webhooks:AllowPrivateNetworks"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.200",
            ["LLM_WEBHOOK_SECRET"] = WebhookSecret,
            ["DOTNET_JitDisasmSummary"] = "1",
        });
        // The worker's first read would otherwise race its own reconciler to create the consumer group, and the
        // reconciler's files would count in some runs: creating the group is a deployment's first start, not the job's.
        using (var redis = await ConnectionMultiplexer.ConnectAsync(environment.RedisConnectionString))
        {
            await new JobQueue(redis, Options.Create(new QueueOptions { KeyPrefix = environment.KeyPrefix })).EnsureConsumerGroupsAsync(ct);
        }

        try
        {
            var api = await ApiProcess.StartAsync(new Dictionary<string, string?>(settings) { ["DOTNET_JitStdOutFile"] = Path.Combine(logs.FullName, "api.txt") });
            await using (api)
            {
                var worker = await WorkerProcess.StartAsync(new Dictionary<string, string?>(settings) { ["DOTNET_JitStdOutFile"] = Path.Combine(logs.FullName, "worker.txt") });
                await using (worker)
                {
                    using var client = api.CreateClient();
                    using var submit = await client.PostAsJsonAsync("/api/v1/workflow",
                        new { workflow_name = "telemetry_three_steps", input_data = new { topic = "files" }, webhook_url = hooks.HookUrl }, ct);
                    submit.EnsureSuccessStatusCode();
                    var jobId = (string)(await submit.Content.ReadFromJsonAsync<JsonObject>(ct))!["job_id"]!;
                    var job = await JobPolling.WaitForTerminalAsync(client, $"/api/v1/status/{jobId}", Wait, ct);
                    Assert.Equal("completed", (string?)job["status"]);
                    var hook = Assert.Single(await hooks.WaitForRequestsAsync(1, Wait));
                    Assert.Equal(VerificationResult.Valid, hooks.Verify(hook));
                    await worker.StopAsync();
                }

                await api.StopAsync();
            }

            return [.. Directory.EnumerateFiles(logs.FullName).SelectMany(File.ReadLines).Select(Compiled).OfType<(string, string)>()];
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }

    /// <summary>
    /// One line of the JIT's summary, e.g. <c>12: JIT compiled LlmWorkflow.X+&lt;RunAsync&gt;d__3[System.__Canon]:MoveNext() [Tier0, …]</c>,
    /// as Cecil names the method: nested types joined with '/', instantiations left out.
    /// </summary>
    private static (string Type, string Method)? Compiled(string line)
    {
        const string Marker = "JIT compiled ";
        var start = line.IndexOf(Marker, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var signature = line[(start + Marker.Length)..];
        var name = WithoutInstantiations(signature[..signature.IndexOf('(', StringComparison.Ordinal)]);
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : (name[..colon].Replace('+', '/'), name[(colon + 1)..]);
    }

    private static string WithoutInstantiations(string name)
    {
        var kept = new StringBuilder(name.Length);
        var depth = 0;
        foreach (var c in name)
        {
            depth += c == '[' ? 1 : 0;
            if (depth == 0)
            {
                kept.Append(c);
            }

            depth -= c == ']' ? 1 : 0;
        }

        return kept.ToString();
    }

    [GeneratedRegex(@"\*\*(\d+) files\*\* one job passes through")]
    private static partial Regex StatedCount();
}
