using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>
/// The workflows of a definitions directory (<c>workflows/definitions/*.json</c>), loaded and validated at start.
/// With <c>watchForChanges</c> (development) it reloads when a file changes; a reload that finds problems keeps
/// the previous workflows and reports through <see cref="ReloadFailed"/>.
/// </summary>
public sealed class WorkflowCatalog : IDisposable
{
    private readonly string _directory;
    private readonly WorkflowValidator _validator;
    private readonly FileSystemWatcher? _watcher;
    private volatile FrozenDictionary<string, WorkflowDefinition> _workflows;

    private WorkflowCatalog(string directory, WorkflowValidator validator, FrozenDictionary<string, WorkflowDefinition> workflows, bool watchForChanges)
    {
        _directory = directory;
        _validator = validator;
        _workflows = workflows;
        if (watchForChanges)
        {
            _watcher = new FileSystemWatcher(directory, "*.json") { NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite };
            _watcher.Changed += (_, _) => Reload();
            _watcher.Created += (_, _) => Reload();
            _watcher.Deleted += (_, _) => Reload();
            _watcher.Renamed += (_, _) => Reload();
            _watcher.EnableRaisingEvents = true;
        }
    }

    /// <summary>Raised after a successful reload.</summary>
    public event Action<WorkflowCatalog>? Reloaded;

    /// <summary>Raised when a reload found problems (the previous workflows stay active).</summary>
    public event Action<WorkflowCatalogException>? ReloadFailed;

    /// <summary>Every workflow, ordered by name.</summary>
    public IReadOnlyList<WorkflowDefinition> All => [.. _workflows.Values.OrderBy(w => w.Name, StringComparer.Ordinal)];

    /// <summary>Loads and validates every definition; throws <see cref="WorkflowCatalogException"/> with all problems of all files.</summary>
    public static WorkflowCatalog Load(string directory, WorkflowValidator validator, bool watchForChanges = false) =>
        new(directory, validator, LoadAll(directory, validator), watchForChanges);

    public bool TryGet(string name, [NotNullWhen(true)] out WorkflowDefinition? workflow) => _workflows.TryGetValue(name, out workflow);

    public void Dispose() => _watcher?.Dispose();

    private void Reload()
    {
        try
        {
            _workflows = LoadAll(_directory, _validator);
            Reloaded?.Invoke(this);
        }
        catch (WorkflowCatalogException ex)
        {
            ReloadFailed?.Invoke(ex);
        }
        catch (IOException ex)
        {
            // An editor may still hold the file; the next change event retries.
            ReloadFailed?.Invoke(new WorkflowCatalogException([new(_directory, "$", "io_error", ex.Message, "Save the file again.")]));
        }
    }

    private static FrozenDictionary<string, WorkflowDefinition> LoadAll(string directory, WorkflowValidator validator)
    {
        var problems = new List<ValidationProblem>();
        var workflows = new Dictionary<string, (WorkflowDefinition Workflow, string File)>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var file = Path.GetFileName(path);
            var loaded = WorkflowDefinitionLoader.LoadFile(path);
            problems.AddRange(loaded.Problems);
            if (loaded.Definition is not { } workflow)
            {
                continue;
            }

            problems.AddRange(validator.Validate(workflow, file));
            if (!workflows.TryAdd(workflow.Name, (workflow, file)))
            {
                problems.Add(new(file, "$.name", ValidationCodes.DuplicateWorkflowName,
                    $"Workflow name \"{workflow.Name}\" is also used by {workflows[workflow.Name].File}.", "Give every workflow a unique name."));
            }
        }

        return problems.Count > 0
            ? throw new WorkflowCatalogException(problems)
            : workflows.ToFrozenDictionary(pair => pair.Key, pair => pair.Value.Workflow, StringComparer.Ordinal);
    }
}
