using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LlmWorkflow.Engine.Definitions;
using LlmWorkflow.Engine.Execution;

namespace LlmWorkflow.Engine.Steps;

/// <summary>Reads a leaf step's typed config, turning shape errors into a CONFIG_ERROR naming the step.</summary>
/// <remarks>
/// A loaded definition's config does not change, so it is written out as UTF-8 once per step definition and every run
/// reads its own copy from those bytes: no run shares config nodes with another, and none pays for writing the node
/// tree again (a 16 KB buffer per read, the largest allocation of an LLM job before).
/// </remarks>
internal static class StepConfigReader
{
    private static readonly ConditionalWeakTable<StepDefinition, byte[]> Utf8Configs = new();

    public static T Read<T>(StepDefinition step, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(Utf8Configs.GetValue(step, ToUtf8), typeInfo)
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

    private static byte[] ToUtf8(StepDefinition step)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            step.Config.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
