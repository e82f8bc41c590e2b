using LlmWorkflow.Engine.Costs;
using LlmWorkflow.Engine.Definitions;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Validation hook for workflow definitions: says, before anything runs, why a model id would fail
/// (malformed, unknown provider, missing API key) or would be billed as unpriced.
/// </summary>
public sealed class ModelCatalog(LlmProviderRegistry providers, IPriceTable prices) : IModelCatalog
{
    /// <summary>What people validating without provider keys (a fresh clone, CI without secrets) can do instead.</summary>
    public const string OfflineHint =
        "To check definitions without provider keys, run `llmwf validate --mock`; to run them offline, start the "
        + "service with Llm__Mock__ServeAllModels=true (every model answered by the mock provider).";

    /// <summary>Null when the model can be called and is priced; otherwise what is wrong and the fix.</summary>
    public ModelProblem? Check(string modelId)
    {
        if (!ModelId.TryParse(modelId, out var model))
        {
            return new ModelProblem(
                ValidationCodes.InvalidModel,
                $"Model id '{modelId}' is not of the form provider/model (e.g. openrouter/anthropic/claude-3.5-sonnet, mock/echo).",
                "Prefix the model with its provider, e.g. \"openai/gpt-4o-mini\" or \"mock/echo\".");
        }

        if (providers.MissingKey(model) is { } missingKey)
        {
            return new ModelProblem(ValidationCodes.MissingProviderKey, missingKey, OfflineHint);
        }

        if (providers.Problem(model) is { } problem)
        {
            return new ModelProblem(ValidationCodes.UnknownModel, problem, "Use a configured provider and a model listed in the pricing file.");
        }

        var billed = providers.Options.Mock.ServeAllModels && model.Provider != "mock" ? "mock/" + modelId : modelId;
        return prices.TryGetPrice(billed, out _)
            ? null
            : new ModelProblem(
                ValidationCodes.UnknownModel,
                $"Unpriced model '{modelId}': it is not in the pricing file, so its cost will be reported as unpriced.",
                $"Add it to workflows/pricing.json or set Pricing:Models:{modelId}:InputPerMillion and OutputPerMillion.");
    }
}
