using System.Text.Json.Serialization;

namespace LlmWorkflow.Engine.Definitions;

/// <summary>Source-generated serializer metadata for the definition model.</summary>
[JsonSourceGenerationOptions(
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkflowDefinition))]
[JsonSerializable(typeof(ConditionalStepConfig))]
[JsonSerializable(typeof(ParallelStepConfig))]
[JsonSerializable(typeof(ForEachStepConfig))]
[JsonSerializable(typeof(LlmStepConfig))]
[JsonSerializable(typeof(ExternalApiStepConfig))]
public sealed partial class DefinitionJsonContext : JsonSerializerContext;
