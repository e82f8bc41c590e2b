using System.Collections.Concurrent;
using System.Text.Json;
using LlmWorkflow.Engine.Costs;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Canned mock answers per workflow and step: configuration (<c>Llm:Mock:Responses:&lt;workflow&gt;:&lt;step&gt;</c>)
/// first, then <c>workflows/mock-responses/&lt;workflow&gt;.json</c> (an object mapping step id → text or JSON).
/// </summary>
internal sealed class MockResponseStore(MockProviderOptions options)
{
    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, string>> _files = new(StringComparer.OrdinalIgnoreCase);

    public string? Find(string? workflow, string? stepId)
    {
        if (workflow is null || stepId is null)
        {
            return null;
        }

        if (options.Responses.TryGetValue(workflow, out var configured) && configured.TryGetValue(stepId, out var text))
        {
            return text;
        }

        return _files.GetOrAdd(workflow, LoadFile).TryGetValue(stepId, out var canned) ? canned : null;
    }

    private IReadOnlyDictionary<string, string> LoadFile(string workflow)
    {
        // Workflow names come from definitions, but never let one escape the responses folder.
        if (workflow.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\']) >= 0 || workflow.Contains("..", StringComparison.Ordinal))
        {
            return new Dictionary<string, string>();
        }

        var directory = DataFileLocator.Find(options.ResponsesDirectory);
        var path = directory is null ? null : Path.Combine(directory, workflow + ".json");
        if (path is null || !File.Exists(path))
        {
            return new Dictionary<string, string>();
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateObject().ToDictionary(
            p => p.Name,
            p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText(),
            StringComparer.OrdinalIgnoreCase);
    }
}
