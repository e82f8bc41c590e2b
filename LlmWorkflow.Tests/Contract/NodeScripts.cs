using System.Diagnostics;
using System.Text;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Contract;

/// <summary>
/// Runs the independent clients in <c>clients/contract</c> (TypeScript through tsx, or the packages' own CLIs) and
/// returns what they printed. A missing <c>node_modules</c> fails the test with the command that installs it.
/// </summary>
internal static class NodeScripts
{
    public static string Directory { get; } = Path.Combine(RepositoryPaths.Root, "clients", "contract");

    public static string Bin(string tool) => Path.Combine(Directory, "node_modules", ".bin", tool);

    /// <summary>Runs <paramref name="tool"/> (a node_modules/.bin command) and fails with its output unless it exits 0.</summary>
    public static async Task<string> RunAsync(string tool, IEnumerable<string> arguments, IDictionary<string, string> environment, TimeSpan timeout)
    {
        RequireInstalled();
        var start = new ProcessStartInfo(Bin(tool))
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}:\n{output}");
        }

        process.WaitForExit(); // flushes the redirected output
        var text = output.ToString();
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}:\n{text}");
        return text;
    }

    public static void RequireInstalled()
    {
        if (!File.Exists(Bin("tsx")))
        {
            Assert.Fail($"The contract clients are not installed: {Path.Combine(Directory, "node_modules")} is missing. " +
                        "Run .ci/contract-setup.sh (npm ci in clients/contract) first.");
        }
    }
}
