using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Docs;

/// <summary>
/// docs/JOB_LIFECYCLE.md says how many source files one job's code can pass through, from the submit endpoint to its
/// webhook. This counts them mechanically (<see cref="CodeReach"/>: the built assemblies' IL and PDBs, the engine
/// included) and holds the document to the count, so it cannot drift from the code.
/// </summary>
[UnitTest]
public sealed partial class JobPathFilesTests(ITestOutputHelper output)
{
    internal static readonly string[] Assemblies =
        ["LlmWorkflow.Api", "LlmWorkflow.Worker", "LlmWorkflow.Storage", "LlmWorkflow.Engine", "LlmWorkflow.Contracts", "LlmWorkflow.ServiceDefaults"];

    // Where a job's code starts: the submit endpoint; the worker's reader, which claims and runs it; the lease
    // renewals while it runs; the webhook dispatcher, which delivers its outcome.
    internal static readonly (string Type, string? Method)[] Entries =
    [
        ("LlmWorkflow.Api.Endpoints.JobEndpoints", "SubmitAsync"),
        ("LlmWorkflow.Worker.JobConsumerService", null),
        ("LlmWorkflow.Worker.Jobs.RunningJobs", null),
        ("LlmWorkflow.Worker.Webhooks.WebhookDispatcher", null),
    ];

    [Fact]
    public void TheDocumentStatesHowManyFilesTheJobPathReaches() =>
        AssertDocumentStates(JobPathFiles(), StatedCount(), "reachable from the submit endpoint", "job-path-files.txt", output);

    /// <summary>
    /// docs/JOB_LIFECYCLE.md states "**N files** <paramref name="phrase"/>" with N the number of <paramref name="files"/>;
    /// the list goes to <paramref name="listName"/> beside the test assembly, for the reader of a failure (the test
    /// output is cut short by some runners).
    /// </summary>
    internal static void AssertDocumentStates(List<string> files, Regex statedCount, string phrase, string listName, ITestOutputHelper output)
    {
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, listName), files);
        var byProject = string.Join(", ", files.GroupBy(f => f[..f.IndexOf('/', StringComparison.Ordinal)]).Select(g => $"{g.Key} {g.Count()}"));
        output.WriteLine($"{files.Count} files ({byProject}):\n{string.Join('\n', files)}");
        var doc = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "JOB_LIFECYCLE.md"));
        var stated = statedCount.Match(doc);
        Assert.True(stated.Success, $"docs/JOB_LIFECYCLE.md must state \"**<N> files** {phrase}\".");
        Assert.True(
            int.Parse(stated.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) == files.Count,
            $"docs/JOB_LIFECYCLE.md states {stated.Groups[1].Value} files {phrase}; the code gives {files.Count} ({byProject}; the list is in " +
            $"{listName} beside the test assembly).");
    }

    [Fact]
    public void EveryFileTheDocumentsTableNamesIsOnThePath()
    {
        var files = JobPathFiles();
        var doc = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "JOB_LIFECYCLE.md"));
        var section = doc[doc.IndexOf("## The files one job passes through", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var named = TableFile().Matches(section).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(named);
        Assert.All(named, file => Assert.Contains(file, files));
    }

    private static List<string> JobPathFiles() => RepositoryFiles(CodeReach.Load(AppContext.BaseDirectory, Assemblies).FilesReachedFrom(Entries));

    /// <summary>The repository's source files among <paramref name="files"/> (no generated ones), relative and in order.</summary>
    internal static List<string> RepositoryFiles(IEnumerable<string> files)
    {
        var root = RepositoryPaths.Root + Path.DirectorySeparatorChar;
        return files
            .Where(file => file.StartsWith(root, StringComparison.Ordinal) && !file.Contains("/obj/", StringComparison.Ordinal))
            .Select(file => file[root.Length..])
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    [GeneratedRegex(@"\*\*(\d+) files\*\* reachable from the submit endpoint")]
    private static partial Regex StatedCount();

    [GeneratedRegex(@"^\| \d+ \| `([^`]+\.cs)`", RegexOptions.Multiline)]
    private static partial Regex TableFile();
}
