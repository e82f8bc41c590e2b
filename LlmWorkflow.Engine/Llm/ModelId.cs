using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// A <c>provider/model</c> id split at the first slash, so OpenRouter's own slashes stay in the model:
/// <c>openrouter/anthropic/claude-3.5-sonnet</c> → provider <c>openrouter</c>, model <c>anthropic/claude-3.5-sonnet</c>.
/// </summary>
public readonly record struct ModelId(string Provider, string Model)
{
    public static bool TryParse(string? id, out ModelId modelId)
    {
        var slash = id?.IndexOf('/') ?? -1;
        if (id is null || slash <= 0 || slash == id.Length - 1)
        {
            modelId = default;
            return false;
        }

        modelId = new ModelId(id[..slash].ToLowerInvariant(), id[(slash + 1)..]);
        return true;
    }

    public static ModelId Parse(string id) => TryParse(id, out var modelId)
        ? modelId
        : throw WorkflowException.Config(
            "invalid_model_id",
            $"Model id '{id}' is not of the form provider/model.",
            "Write models as provider/model, e.g. openrouter/anthropic/claude-3.5-sonnet or mock/echo.");

    public override string ToString() => $"{Provider}/{Model}";
}
