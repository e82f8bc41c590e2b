namespace LlmWorkflow.Engine.Definitions;

/// <summary>The typed config of a step that contains other steps.</summary>
public interface IControlFlowConfig
{
    IReadOnlyList<StepBlock> Blocks { get; }
}
