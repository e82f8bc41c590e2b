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
        return await ExternalCommand.RunAsync(Bin(tool), arguments, timeout, new Dictionary<string, string>(environment), Directory);
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
