using System.Diagnostics;

namespace LlmWorkflow.LoadTest;

/// <summary>Runs one of the independent Node clients in <c>bench/node/</c> and returns what it printed.</summary>
internal static class NodeScript
{
    public static async Task<string> RunAsync(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node", [Path.GetFullPath(Path.Combine("bench", "node", script)), .. arguments])
        {
            RedirectStandardOutput = true,
        };
        using var node = Process.Start(start)!;
        var output = await node.StandardOutput.ReadToEndAsync();
        await node.WaitForExitAsync();
        return node.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"bench/node/{script} failed ({node.ExitCode}): {output}");
    }
}
