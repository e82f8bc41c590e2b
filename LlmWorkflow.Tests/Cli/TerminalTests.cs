using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmWorkflow.Tests.LocalServers;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>
/// <c>run</c> and <c>watch</c> under a real pseudo-terminal (tmux): the live display (bars, spinner, streamed text)
/// renders while the workflow runs and ends cleanly; piped, the same command prints plain lines.
/// </summary>
[SystemTest]
public sealed class TerminalTests(TestServers servers) : IDisposable
{
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(60);
    private static readonly string[] SpinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

    private readonly TempWorkflows _project = new();

    [Fact]
    public async Task RunShowsLiveProgressOnATerminalAndEndsCleanly()
    {
        await ScaffoldAsync();
        // Slow mock answers keep the llm step running long enough to see it in flight.
        using var terminal = TmuxTerminal.Start(_project.Root, $"Llm__Mock__LatencyMs=3000 dotnet {CliHarness.ToolPath} run demo --mock");

        var running = await terminal.WaitForScreenAsync(screen => SpinnerFrames.Any(screen.Contains) && screen.Contains("Draft the explanation"), ScreenTimeout);
        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);

        Assert.Contains("━", running);
        Assert.DoesNotContain("run started:", running);
        AssertEndedCleanly(done, "demo");
        Assert.Contains("Explain why the sky is blue", done);
    }

    [Fact]
    public async Task LiveDisplayKeepsTheLinePrintedBeforeIt()
    {
        await ScaffoldAsync();
        using var terminal = TmuxTerminal.Start(_project.Root, $"echo FIRST-LINE; echo PREVIOUS-LINE; Llm__Mock__LatencyMs=1000 dotnet {CliHarness.ToolPath} run demo --mock");

        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);

        AssertEndedCleanly(done, "demo");
        var lines = done.Split('\n');
        Assert.Equal("FIRST-LINE", lines[0].TrimEnd());
        Assert.Equal("PREVIOUS-LINE", lines[1].TrimEnd());
        Assert.StartsWith("demo  ", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedRunShowsItsErrorOnceOnTheTerminal()
    {
        _project.Definition("broken_run.json", """
            { "name": "broken_run", "steps": [ { "id": "parse", "type": "transform", "display_name": "Parse the text", "config": { "operation": "parse_json", "input": "${input.text}" } } ] }
            """);
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} run broken_run --input '{{\"text\": \"not json\"}}'");

        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);

        Assert.Contains("EXIT=1", done);
        var errorLines = done.Split('\n').Where(line => line.Contains("not valid JSON", StringComparison.OrdinalIgnoreCase) || line.Contains("parse_json", StringComparison.Ordinal)).ToList();
        Assert.True(errorLines.Count == 1, $"The error should appear once. Screen:\n{done}");
    }

    [Fact]
    public async Task RunPipedFromATerminalPrintsPlainLines()
    {
        await ScaffoldAsync();
        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} run demo --mock | cat");

        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);

        Assert.Contains("run started: demo (2 steps)", done);
        Assert.Contains("[1/2] Draft the explanation (draft, llm) started", done);
        Assert.Contains("run completed:", done);
        Assert.DoesNotContain(SpinnerFrames, done.Contains);
    }

    [Fact]
    public async Task WatchShowsLiveProgressOfAServiceJobAndEndsCleanly()
    {
        await ScaffoldAsync();
        var port = PortAllocator.GetFreePort();
        var environment = await TestEnvironment.CreateAsync(servers, nameof(TerminalTests));
        var settings = environment.Settings(new Dictionary<string, string?>
        {
            ["Workflows:Root"] = _project.Workflows,
            ["Worker:Id"] = "terminal-worker",
            ["Llm:Mock:LatencyMs"] = "3000",
        });
        await using var api = new ApiFactory(settings);
        api.UseKestrel(port);
        api.StartServer();
        await using var worker = await WorkerHost.StartAsync(settings, TestContext.Current.CancellationToken);
        var url = $"http://localhost:{port}";
        var jobId = await SubmitAsync(url);

        using var terminal = TmuxTerminal.Start(_project.Root, $"dotnet {CliHarness.ToolPath} watch {jobId} --url {url} --api-key {TestEnvironment.CallerKey}");

        var running = await terminal.WaitForScreenAsync(screen => SpinnerFrames.Any(screen.Contains) && screen.Contains("Draft the explanation"), ScreenTimeout);
        var done = await terminal.WaitForScreenAsync(screen => screen.Contains("EXIT="), ScreenTimeout);

        Assert.Contains("━", running);
        AssertEndedCleanly(done, "demo");
        Assert.Contains($"job {jobId}: demo completed", done);
    }

    public void Dispose() => _project.Dispose();

    private static void AssertEndedCleanly(string screen, string workflow)
    {
        Assert.Contains("EXIT=0", screen);
        Assert.Contains($"{workflow}  ", screen);
        Assert.Contains("100% completed", screen);
        Assert.Contains("✔  Draft the explanation", screen);
        Assert.Contains("✔  Shape the answer", screen);
        Assert.Contains("Steps and cost", screen);
        // The last frame replaced the in-flight ones: no spinner is left on screen.
        Assert.DoesNotContain(SpinnerFrames, screen.Contains);
    }

    private async Task ScaffoldAsync()
    {
        var created = await CliHarness.RunAsync(_project.Root, "new", "demo");
        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
    }

    private static async Task<string> SubmitAsync(string url)
    {
        using var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Add("X-API-Key", TestEnvironment.CallerKey);
        var response = await client.PostAsJsonAsync("/api/v1/workflow", new { workflow_name = "demo", input_data = new { topic = "tides" } }, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        return (string)accepted!["job_id"]!;
    }
}
