using LlmWorkflow.Cli.Editing;
using LlmWorkflow.Tests.Infrastructure;

namespace LlmWorkflow.Tests.Cli;

/// <summary>The editor's model of a definition: the step tree over every kind of block, edits, undo and an unchanged save.</summary>
[UnitTest]
public sealed class DefinitionDocumentTests
{
    private static DefinitionDocument Open(string workflow)
    {
        var path = Path.Combine(RepositoryPaths.Workflows, "definitions", workflow + ".json");
        return new DefinitionDocument(path, File.ReadAllText(path));
    }

    [Fact]
    public void TheTreeShowsParallelBranchesConditionalArmsAndForEachBodies()
    {
        var trip = Open("trip_briefing").Steps();
        var triage = Open("support_triage").Steps();

        Assert.Contains(trip, n => n.Depth == 1 && n.Block == "body" && n.JsonPath.Contains(".config.steps[", StringComparison.Ordinal));
        Assert.Contains(trip, n => n.Depth == 1 && n.JsonPath.Contains(".config.branches.", StringComparison.Ordinal));
        Assert.Contains(triage, n => n.Block == "then");
        Assert.Contains(triage, n => n.Block == "else");
        Assert.All(trip.Concat(triage), n => Assert.Same(n.Step, n.Container[n.Index]));
    }

    [Fact]
    public void AnUntouchedDefinitionSerializesToTheSameText()
    {
        var path = Path.Combine(RepositoryPaths.Workflows, "definitions", "emergency_contacts.json");

        Assert.Equal(File.ReadAllText(path), new DefinitionDocument(path, File.ReadAllText(path)).Serialize());
    }

    [Fact]
    public void DuplicateGivesTheCopyAndItsNestedStepsUnusedIds()
    {
        var document = Open("emergency_contacts");
        var parallel = document.Steps().First(n => n.Id == "fetch_google_places");

        document.Duplicate(parallel);

        var ids = document.Steps().Select(n => n.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("fetch_google_places_copy", ids);
        Assert.Contains("search_hospitals_copy", ids);
        Assert.Equal("fetch_google_places_copy", document.Steps().Where(n => n.Depth == 0).ElementAt(1).Id);
    }

    [Fact]
    public void EveryEditIsUndoneInReverseOrder()
    {
        var document = Open("support_triage");
        var original = document.Serialize();
        var first = document.Steps()[0];

        document.Move(first, +1);
        var afterMove = document.Serialize();
        document.Remove(document.Steps().First(n => n.Depth == 0));

        Assert.True(document.IsDirty);
        Assert.StartsWith("remove", document.Undo());
        Assert.Equal(afterMove, document.Serialize());
        Assert.StartsWith("move", document.Undo());
        Assert.Equal(original, document.Serialize());
        Assert.False(document.IsDirty);
        Assert.Null(document.Undo());
    }

    [Fact]
    public void AStepCannotBeMovedIntoItself()
    {
        var document = Open("emergency_contacts");
        var parallel = document.Steps().First(n => n.Id == "fetch_google_places");
        var leaf = document.Steps().First(n => n.Id == "parse_response");

        Assert.Empty(document.Blocks(parallel));
        Assert.Equal(3, document.Blocks(leaf).Count);
    }
}
