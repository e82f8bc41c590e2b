using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmWorkflow.Cli;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>What one llmwf invocation produced.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public JsonObject Json => JsonNode.Parse(Out)?.AsObject() ?? throw new InvalidOperationException("No JSON on standard output: " + Out);

    public override string ToString() => $"exit {ExitCode}\n--- out ---\n{Out}\n--- error ---\n{Error}";
}

/// <summary>Runs llmwf in-process (the root command with captured writers) or as a real process (<c>dotnet llmwf.dll</c>).</summary>
public static class CliHarness
{
    /// <summary>The built tool: copied beside the tests by the project reference.</summary>
    public static string ToolPath { get; } = Path.Combine(AppContext.BaseDirectory, "llmwf.dll");

    public static async Task<CliResult> RunAsync(string workingDirectory, params string[] args) =>
        await RunAsync(workingDirectory, null, args);

    public static async Task<CliResult> RunAsync(string workingDirectory, HttpMessageHandler? httpHandler, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new CliConsole { Out = output, Error = error, WorkingDirectory = workingDirectory, HttpHandler = httpHandler, Environment = _ => null };
        var exitCode = await CliApp.RunAsync(args, console, TestContext.Current.CancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs <c>dotnet llmwf.dll args</c> with redirected output (so not a terminal).</summary>
    public static async Task<CliResult> RunProcessAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ToolPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new CliResult(process.ExitCode, await output, await error);
    }

    /// <summary>The repository root: the shipped workflows are found from here.</summary>
    public static string RepositoryRoot => RepositoryPaths.Root;
}
