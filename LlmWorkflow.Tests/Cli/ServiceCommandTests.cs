using System.Text.Json.Nodes;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// submit, status, watch, jobs and cancel against the real API (in-process, its handler injected into the CLI) and
/// a real Worker, on the shared Postgres and Redis.
/// </summary>
[SystemTest]
public sealed class ServiceCommandTests(ServiceCommandTests.Service service) : IClassFixture<ServiceCommandTests.Service>
{
    private const string Url = "http://localhost";
    private readonly ApiFactory _api = service.Api;

    /// <summary>
    /// The API and a worker for the whole class: each test reads back the jobs it submitted (every one finished before
    /// the test ends) or asks for what every test may share (the catalog, refusals).
    /// </summary>
    public sealed class Service(TestServers servers) : IAsyncLifetime
    {
        private WorkerHost _worker = null!;

        public ApiFactory Api { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            var environment = await TestEnvironment.CreateAsync(servers, nameof(ServiceCommandTests));
            Api = new ApiFactory(environment.Settings());
            _worker = await WorkerHost.StartAsync(environment.Settings(new Dictionary<string, string?> { ["Worker:Id"] = "cli-worker" }));
        }

        public async ValueTask DisposeAsync()
        {
            await _worker.DisposeAsync();
            await Api.DisposeAsync();
        }
    }

    [Fact]
    public async Task SubmitThenWatchStatusAndJobs()
    {
        var submitted = await Cli("submit", "hello_transform", "--input", """{"name": "Ada"}""", "--priority", "5", "--json");
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        var jobId = (string)submitted.Json["job_id"]!;
        Assert.Equal("queued", (string?)submitted.Json["status"]);

        var watched = await Cli("watch", jobId);
        Assert.True(watched.ExitCode == ExitCodes.Success, watched.ToString());
        Assert.DoesNotContain('\u001b', watched.Out);
        Assert.Contains("run started: hello_transform (1 steps)", watched.Out);
        Assert.Contains("run completed:", watched.Out);
        Assert.Contains("\"greeting\": \"Hello, Ada!\"", watched.Out);
        Assert.Contains("Steps and cost", watched.Out);

        var status = await Cli("status", jobId, "--json");
        Assert.Equal(ExitCodes.Success, status.ExitCode);
        Assert.Equal("completed", (string?)status.Json["status"]);
        Assert.Equal(5, (int?)status.Json["priority"]);

        var jobs = await Cli("jobs", "--status", "completed", "--json");
        Assert.Equal(ExitCodes.Success, jobs.ExitCode);
        Assert.Contains(jobs.Json["jobs"]!.AsArray(), j => (string?)j!["job_id"] == jobId);

        var table = await Cli("jobs", "--limit", "5");
        Assert.Contains(jobId, table.Out);
    }

    [Fact]
    public async Task SubmitWithWatchAndJsonPrintsTheFinalStatus()
    {
        var result = await Cli("submit", "hello_transform", "-i", """{"name": "Grace"}""", "--watch", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal("completed", (string?)result.Json["status"]);
        Assert.Equal("Hello, Grace!", (string?)result.Json["result"]?["output"]?["greeting"]);
    }

    [Fact]
    public async Task CancellingAFinishedJobExitsOneWithTheServiceMessage()
    {
        var submitted = await Cli("submit", "hello_transform", "-i", """{"name": "Ada"}""", "--watch", "--json");
        var jobId = (string)submitted.Json["job_id"]!;

        var result = await Cli("cancel", jobId);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("HTTP 409", result.Error);
    }

    [Fact]
    public async Task ServiceErrorsExitOneWithWhatTheServiceSaid()
    {
        var unknownJob = await Cli("status", Guid.NewGuid().ToString());
        var badFilter = await Cli("jobs", "--status", "sleeping");
        var unknownWorkflow = await Cli("submit", "no_such_workflow");

        Assert.Equal(ExitCodes.Failure, unknownJob.ExitCode);
        Assert.Contains("HTTP 404", unknownJob.Error);
        Assert.Equal(ExitCodes.Failure, badFilter.ExitCode);
        Assert.Contains("Valid values:", badFilter.Error);
        Assert.Equal(ExitCodes.Failure, unknownWorkflow.ExitCode);
        Assert.Contains("no_such_workflow", unknownWorkflow.Error);
    }

    [Fact]
    public async Task WrongApiKeyIsRejected()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, _api.Server.CreateHandler(), "jobs", "--url", Url, "--api-key", "wrong");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("HTTP 401", result.Error);
    }

    [Fact]
    public async Task MalformedJobIdIsAUsageError()
    {
        var result = await Cli("status", "not-a-guid");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("\"not-a-guid\" is not a job id", result.Error);
    }

    [Fact]
    public async Task UnreachableServiceSaysHowToPointAtOne()
    {
        var result = await CliHarness.RunAsync(CliHarness.RepositoryRoot, "jobs", "--url", "http://127.0.0.1:1");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("Cannot reach the service at http://127.0.0.1:1/", result.Error);
    }

    [Fact]
    public async Task SubmitWithoutInputUsesTheExampleInputLikeRun()
    {
        var result = await Cli("submit", "hello_transform", "--watch");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Contains($"input_data from {Path.Combine("workflows", "examples", "hello_transform.json")}", result.Out);
        Assert.Contains("\"greeting\": \"Hello, Ada!\"", result.Out);
    }

    [Fact]
    public async Task ServiceErrorsArePrintedOnce()
    {
        var badFilter = await Cli("jobs", "--status", "sleeping");
        var badInput = await Cli("submit", "hello_transform", "--input", """{"name": 42}""");

        Assert.Equal(ExitCodes.Failure, badFilter.ExitCode);
        Assert.Single(Occurrences(badFilter.Error, "Valid values:"));
        Assert.Equal(ExitCodes.Failure, badInput.ExitCode);
        Assert.Contains("input_data", badInput.Error);
        Assert.Single(Occurrences(badInput.Error, "Expected string"));
        Assert.Single(badInput.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task RetryOfACompletedJobExitsOneWithTheServiceReason()
    {
        var submitted = await Cli("submit", "hello_transform", "-i", """{"name": "Ada"}""", "--watch", "--json");
        var jobId = (string)submitted.Json["job_id"]!;

        var result = await Cli("retry", jobId);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("HTTP 409", result.Error);
        Assert.Contains("Only failed or cancelled jobs can be retried.", result.Error);
    }

    [Fact]
    public async Task WorkflowsListsTheServiceCatalog()
    {
        var table = await Cli("workflows");
        var json = await Cli("workflows", "--json");

        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.Contains(table.Out.Split('\n'), line => line.Contains("hello_transform", StringComparison.Ordinal) && line.Contains("emergency_contacts", StringComparison.Ordinal) is false);
        Assert.Contains("emergency_contacts", table.Out);
        var names = JsonNode.Parse(json.Out)!.AsArray().Select(w => (string?)w!["name"]).ToList();
        Assert.Contains("hello_transform", names);
        Assert.Contains("mission_generation", names);
    }

    private static IEnumerable<int> Occurrences(string text, string value)
    {
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            yield return at;
        }
    }

    private Task<CliResult> Cli(params string[] args) =>
        CliHarness.RunAsync(CliHarness.RepositoryRoot, _api.Server.CreateHandler(), [.. args, "--url", Url, "--api-key", TestEnvironment.CallerKey]);
}
