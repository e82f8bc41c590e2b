using System.Text.RegularExpressions;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Pipeline;

/// <summary>
/// A job's row changes only through <c>JobLifecycleStore</c> (docs/JOB_LIFECYCLE.md): no other production source file
/// may hold a statement that inserts, updates or deletes <c>llm_workflow_jobs</c> rows, in SQL or through EF Core's
/// bulk <c>ExecuteUpdate</c>/<c>ExecuteDelete</c> on <c>Jobs</c>. The load-test tool under bench/ seeds its own rows
/// and is not production code; the tests' own fixtures are not either.
/// </summary>
[UnitTest]
public sealed partial class JobRowWritersTests
{
    private const string StoreFiles = "JobLifecycleStore";

    [GeneratedRegex(@"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(\s+TABLE)?)\s+llm_workflow_jobs\b", RegexOptions.IgnoreCase)]
    private static partial Regex JobRowSql();

    [GeneratedRegex(@"\.Jobs\b[^;]*?\.Execute(Update|Delete)Async\b", RegexOptions.Singleline)]
    private static partial Regex JobRowBulkEf();

    [Fact]
    public void OnlyTheLifecycleStoreChangesAJobRow()
    {
        var offenders = ProductionSources()
            .Where(file => !Path.GetFileName(file).StartsWith(StoreFiles, StringComparison.Ordinal))
            .SelectMany(file => Writes(file).Select(write => $"{Path.GetRelativePath(RepositoryPaths.Root, file)}: {write}"))
            .ToList();

        Assert.Empty(offenders);
    }

    [Fact]
    public void TheLifecycleStoreHoldsEveryKindOfJobRowWrite()
    {
        // The rule above is only as good as its pattern: it must find the store's own statements.
        var found = ProductionSources()
            .Where(file => Path.GetFileName(file).StartsWith(StoreFiles, StringComparison.Ordinal))
            .SelectMany(Writes)
            .Select(write => Regex.Replace(write.ToUpperInvariant(), @"\s+", " "))
            .ToHashSet();

        Assert.Contains("INSERT INTO LLM_WORKFLOW_JOBS", found);
        Assert.Contains("UPDATE LLM_WORKFLOW_JOBS", found);
        Assert.Contains("DELETE FROM LLM_WORKFLOW_JOBS", found);
    }

    private static IEnumerable<string> Writes(string file)
    {
        var text = File.ReadAllText(file);
        return JobRowSql().Matches(text).Concat(JobRowBulkEf().Matches(text)).Select(match => match.Value);
    }

    private static IEnumerable<string> ProductionSources() =>
        Directory.EnumerateDirectories(RepositoryPaths.Root, "LlmWorkflow.*")
            .Where(project => Path.GetFileName(project) != "LlmWorkflow.Tests")
            .SelectMany(project => Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories))
            .Where(file => !file.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"));
}
