using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Validation hook for workflow definitions: says, before anything runs, why a model id would fail
/// (malformed, unknown provider, missing API key) or would be billed as unpriced.
/// </summary>
public sealed class ModelCatalog(LlmProviderRegistry providers, IPriceTable prices) : IModelCatalog
{
    /// <summary>Null when the model can be called and is priced; otherwise a message with the fix.</summary>
    public string? Check(string modelId)
    {
        if (!ModelId.TryParse(modelId, out var model))
        {
            return $"Model id '{modelId}' is not of the form provider/model (e.g. openrouter/anthropic/claude-3.5-sonnet, mock/echo).";
        }

        if (providers.Problem(model) is { } problem)
        {
            return problem;
        }

        var billed = providers.Options.Mock.ServeAllModels && model.Provider != "mock" ? "mock/" + modelId : modelId;
        return prices.TryGetPrice(billed, out _)
            ? null
            : $"Unpriced model '{modelId}': it is not in the pricing file, so its cost will be reported as unpriced. "
                + $"Add it to workflows/pricing.json or set Pricing:Models:{modelId}:InputPerMillion and OutputPerMillion.";
    }
}
