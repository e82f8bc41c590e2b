using LlmWorkflow.Engine.Llm;
using Microsoft.Extensions.Options;

namespace LlmWorkflow.Api.Generator;

/// <summary>Configuration section <c>Generator</c> of document 004's project generator.</summary>
public sealed class ProjectGeneratorOptions
{
    public const string SectionName = "Generator";

    /// <summary>Document 004's setting name for <see cref="ModelPrimary"/>.</summary>
    public const string ModelPrimaryVariable = "MODEL_PRIMARY";

    /// <summary>The workflow a start runs.</summary>
    public string WorkflowName { get; set; } = "generate_project";

    /// <summary>
    /// The <c>provider/model</c> every llm step of the workflow uses (<c>MODEL_PRIMARY</c>); unset keeps the
    /// definition's models. Runs are pinned to the version with this model, so a run keeps the model it started with.
    /// </summary>
    public string? ModelPrimary { get; set; }
}

internal sealed class ProjectGeneratorOptionsValidation : IValidateOptions<ProjectGeneratorOptions>
{
    public ValidateOptionsResult Validate(string? name, ProjectGeneratorOptions options) =>
        options.ModelPrimary is null || ModelId.TryParse(options.ModelPrimary, out _)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{ProjectGeneratorOptions.ModelPrimaryVariable} (Generator:ModelPrimary) must be a provider/model id such as openai/gpt-5-mini; got '{options.ModelPrimary}'.");
}
