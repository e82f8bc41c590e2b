using System.Reflection;
using LlmWorkflow.Tests.Deployment;
using LlmWorkflow.Tests.Infrastructure;
using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(LongestFirstCollectionOrderer))]

namespace LlmWorkflow.Tests.Infrastructure;

/// <summary>
/// Starts the longest collections first, so that the run ends when the work does rather than when a long collection
/// that happened to start last does: xUnit's default order is random, and the publishing collection (two publishes,
/// then containers: several minutes) once started four minutes in and then ran alone at the end. The order is the
/// kinds' (system tests take seconds to minutes each, integration tests about a second, unit tests milliseconds), the
/// publishing collection first; ties by name, so a run is repeatable. Collections that do not run in parallel
/// (<see cref="TimeBoundTests"/>) run after the parallel ones, one at a time in this order. The composite Worker
/// publish (minutes of low-priority compiling) starts here, as the run begins, when the run includes its test
/// (<see cref="WaitsForTheCompositePublish"/>), which is ordered first so it runs first of the classes that run alone.
/// </summary>
public sealed class LongestFirstCollectionOrderer : ITestCollectionOrderer
{
    private static readonly Lazy<Dictionary<string, int>> RankByCollection = new(RankCollections);

    private readonly Action _startCompositePublish;

    public LongestFirstCollectionOrderer()
        : this(CompositeWorkerPublish.Start)
    {
    }

    /// <summary>For the orderer's own tests: what to do instead of starting the publish.</summary>
    internal LongestFirstCollectionOrderer(Action startCompositePublish) => _startCompositePublish = startCompositePublish;

    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        if (testCollections.Any(c => ClassCollectionName(c.TestCollectionDisplayName) == WaitsForTheCompositePublish.Name))
        {
            _startCompositePublish();
        }

        return [.. testCollections.OrderBy(c => Rank(c)).ThenBy(c => c.TestCollectionDisplayName, StringComparer.Ordinal)];
    }

    private static int Rank(ITestCollection collection) =>
        RankByCollection.Value.TryGetValue(ClassCollectionName(collection.TestCollectionDisplayName), out var rank) ? rank : KindRank(null);

    /// <summary>A class's own collection as xUnit shows it, "Test collection for &lt;full name&gt;" (with " (id: …)" in some modes), without the id.</summary>
    private static string ClassCollectionName(string displayName) =>
        displayName.IndexOf(" (id: ", StringComparison.Ordinal) is > 0 and var id ? displayName[..id] : displayName;

    /// <summary>Each collection's rank: its slowest class's kind (an explicit collection may hold several classes).</summary>
    private static Dictionary<string, int> RankCollections()
    {
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal) { [PublishesApiAndWorker.Name] = 0, [WaitsForTheCompositePublish.Name] = FirstRank };
        foreach (var type in typeof(LongestFirstCollectionOrderer).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            var kind = type.GetCustomAttribute<TestKindAttribute>(inherit: true);
            if (kind is null)
            {
                continue;
            }

            // xUnit names a class's own collection "Test collection for <full name>".
            var name = type.GetCustomAttribute<CollectionAttribute>()?.Name ?? $"Test collection for {type.FullName}";
            if (name == WaitsForTheCompositePublish.Name)
            {
                continue;
            }

            var rank = KindRank(kind.Kind);
            ranks[name] = ranks.TryGetValue(name, out var known) ? Math.Min(known, rank) : rank;
        }

        return ranks;
    }

    private const int FirstRank = -1;

    private static int KindRank(string? kind) => kind switch
    {
        TestKindAttribute.System => 1,
        TestKindAttribute.Integration => 2,
        TestKindAttribute.Unit => 4,
        _ => 3,
    };
}
