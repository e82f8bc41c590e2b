namespace LlmWorkflow.Engine.Definitions;

/// <summary>Lets the validator ask whether a <c>provider/model</c> id can run and is priced; implemented by the providers.</summary>
public interface IModelCatalog
{
    /// <summary>Null when the model is usable and priced; otherwise what is wrong (unknown provider, missing key, unpriced model).</summary>
    ModelProblem? Check(string modelId);
}
