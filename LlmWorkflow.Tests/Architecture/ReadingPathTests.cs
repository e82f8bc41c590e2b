using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Architecture;

/// <summary>
/// docs/JOB_LIFECYCLE.md's "Reading path" lists every file a reader opens to follow one transform-and-LLM job with a
/// webhook; a plain job must pass through no capability it does not use. This parses the list from the document and
/// fails when a file on it uses a capability module other than Webhooks (the job's one capability), the hosts' composition aside (it wires the modules in by design), read with Mono.Cecil
/// (<see cref="TypeUses"/>, each use placed in the file of the method or type that makes it). The uses that remain are
/// listed below with why; the list may only shrink. The table's line counts and their sum are held to the files.
/// </summary>
[UnitTest]
public sealed partial class ReadingPathTests(ITestOutputHelper output)
{
    private static readonly string[] UsedByTheJob = ["Webhooks"];

    // "file -> module" → why it is still on the plain job's path. Remove an entry when its use goes.
    private static readonly Dictionary<string, string> KnownUses = new(StringComparer.Ordinal)
    {
        ["LlmWorkflow.Api/Jobs/JobSubmission.cs -> Versions"] = "the submission carries the definition's stored version (pinning)",
        ["LlmWorkflow.Api/Jobs/JobSubmitter.cs -> Versions"] = "the submit stores and pins the definition's version",
        ["LlmWorkflow.Engine/Execution/WorkflowRunOptions.cs -> Admission"] = "the run options carry the spend budget and cost history; to become a chat-client middleware",
        ["LlmWorkflow.Engine/Execution/WorkflowRunner.cs -> Admission"] = "the runner passes the spend budget and cost history on; to become a chat-client middleware",
        ["LlmWorkflow.Engine/Llm/LlmGateway.Outage.cs -> Admission"] = "the outage breaker wraps each attempt (its code was in LlmGateway.Tiers.cs, which the table left out though every call ran it); to become a chat-client middleware as the budgets are",
        ["LlmWorkflow.Engine/Llm/LlmGateway.cs -> Admission"] = "the outage breaker, its deferral and the batches are still in the gateway (admission's budgets are middleware now, AdmissionChatClient)",
        ["LlmWorkflow.Engine/Steps/LlmStepHandler.cs -> Admission"] = "the gateway's request record carries a resumed batch (its budgets and parks are in LlmStepHandler.Budgets.cs)",
        ["LlmWorkflow.Worker/Jobs/JobRun.Checkpoints.cs -> Scheduling"] = "a parked run's approval links (the JobRun's constructor parameter)",
        ["LlmWorkflow.Worker/Jobs/JobRun.cs -> Scheduling"] = "a parked run's wait description and approval links (the waiting event)",
        ["LlmWorkflow.Worker/Jobs/RunnableWorkflows.cs -> Versions"] = "a pinned job runs its stored version",
        ["LlmWorkflow.Worker/Jobs/WorkflowRunOptionsFactory.cs -> Admission"] = "the run options carry the tenant's spend budget; to become a chat-client middleware",
        ["LlmWorkflow.Worker/Jobs/WorkflowRunOptionsFactory.cs -> Reporting"] = "the CSV run log wraps the run's progress; to become a progress sink the module registers",
    };

    [Fact]
    public void NoFileOnTheReadingPathUsesACapabilityTheJobDoesNotUse()
    {
        var path = ReadingPath();
        var uses = TypeUses.OfProduction()
            .Where(use => use.File is not null && path.Contains(use.File) && !ModuleLayout.Current.IsComposition(use))
            .Select(use => (use.File, Module: ModuleLayout.Current.ModuleOf(use.ToNamespace)?.Name, use.To))
            .Where(use => use.Module is not null && !UsedByTheJob.Contains(use.Module))
            .ToList();
        foreach (var group in uses.GroupBy(u => $"{u.File} -> {u.Module}").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{group.Key}  ({string.Join(", ", group.Select(u => u.To).Distinct())})");
        }

        var unexpected = uses.Where(u => !KnownUses.ContainsKey($"{u.File} -> {u.Module}")).Select(u => $"{u.File} -> {u.Module} (uses {u.To})")
            .Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(unexpected.Count == 0, "A file on the plain job's reading path uses a capability the job does not use; plug the " +
            $"capability in beside the core instead:\n{string.Join('\n', unexpected)}");
        var gone = KnownUses.Keys.Except(uses.Select(u => $"{u.File} -> {u.Module}")).ToList();
        Assert.True(gone.Count == 0, $"No longer used, remove from the known list: {string.Join(", ", gone)}");
    }

    [Fact]
    public void EveryFileOnTheReadingPathExists()
    {
        var path = ReadingPath();
        Assert.True(path.Count >= 10, $"The reading path lists {path.Count} files; the table was not found or not parsed.");
        Assert.All(path, file => Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, file)), $"{file} is on the reading path but does not exist."));
    }

    [Fact]
    public void TheTableStatesEachFilesLinesAndTheirSum()
    {
        var section = Section();
        var rows = TableRow().Matches(section).Select(m => (File: m.Groups[1].Value, Stated: Number(m.Groups[2].Value))).ToList();
        var counted = rows.Select(r => (r.File, r.Stated, Lines: File.ReadAllLines(Path.Combine(RepositoryPaths.Root, r.File)).Length)).ToList();
        var wrong = counted.Where(r => r.Stated != r.Lines).Select(r => $"{r.File}: {r.Stated} stated, {r.Lines} in the file").ToList();
        Assert.True(wrong.Count == 0, $"The reading path's line counts drifted from the code:\n{string.Join('\n', wrong)}");
        var totals = Totals().Match(section);
        Assert.True(totals.Success, "The reading path must state \"**<N> files, <M> lines**\".");
        Assert.Equal(rows.Count, Number(totals.Groups[1].Value));
        Assert.Equal(counted.Sum(r => r.Lines), Number(totals.Groups[2].Value));
    }

    /// <summary>The files of the table under "## Reading path" in docs/JOB_LIFECYCLE.md.</summary>
    private static HashSet<string> ReadingPath() =>
        TableRow().Matches(Section()).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>The "## Reading path" section of docs/JOB_LIFECYCLE.md.</summary>
    private static string Section()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "JOB_LIFECYCLE.md"));
        var start = doc.IndexOf("\n## Reading path", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/JOB_LIFECYCLE.md has no \"## Reading path\" section.");
        var section = doc[(start + 1)..];
        var end = section.IndexOf("\n## ", StringComparison.Ordinal);
        return end < 0 ? section : section[..end];
    }

    private static int Number(string text) => int.Parse(text, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\| \d+ \| `([^`]+\.cs)` \| ([\d,]+) \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"\*\*(\d+) files, ([\d,]+) lines\*\*")]
    private static partial Regex Totals();
}
