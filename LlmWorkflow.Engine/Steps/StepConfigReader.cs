using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Steps;

/// <summary>Reads a leaf step's typed config, turning shape errors into a CONFIG_ERROR naming the step.</summary>
internal static class StepConfigReader
{
    public static T Read<T>(StepDefinition step, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return step.Config.Deserialize(typeInfo)
                ?? throw WorkflowException.Config("invalid_step_config", $"Step \"{step.Id}\" has no config.");
        }
        catch (JsonException ex)
        {
            throw new WorkflowException(
                new WorkflowError
                {
                    Type = "invalid_step_config",
                    Category = ErrorCategory.ConfigError,
                    Message = $"Step \"{step.Id}\" has an invalid config: {ex.Message}",
                    StepId = step.Id,
                },
                ex);
        }
    }
}
